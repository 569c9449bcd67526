import pytest

from cnnbench.analytic import forward_flops_per_sample, param_count, train_flops_per_sample
from cnnbench.experiment import REFERENCE_2017
from cnnbench.model import build_model


@pytest.mark.parametrize("filters, params", [(f, r.params) for f, r in REFERENCE_2017.items()])
def test_parameter_count_matches_report(filters, params):
    assert build_model(filters).count_params() == params
    assert param_count(filters) == params


def test_layers_and_output_shape():
    model = build_model(16)
    assert model.output_shape == (None, 10)
    assert [layer.name for layer in model.layers] == [
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "flatten",
        "dense",
        "logits",
    ]
    assert model.get_layer("flatten").output.shape == (None, 7 * 7 * 16)


def test_flops_hand_count_at_16_filters():
    # Multiply-accumulates, worked out by hand for 16 filters:
    #   conv1: 28*28 outputs * 16 filters * 3*3*1 taps  =  112_896
    #   conv2: 14*14 outputs * 16 filters * 3*3*16 taps =  451_584
    #   dense: 7*7*16 inputs * 128 units                =  100_352
    #   logits: 128 * 10                                =    1_280
    macs = 112_896 + 451_584 + 100_352 + 1_280
    assert forward_flops_per_sample(16) == 2 * macs == 1_332_224
    # Backward: weight gradients (all layers) + input gradients (all but conv1).
    assert train_flops_per_sample(16) == 3 * 1_332_224 - 2 * 112_896 == 3_770_880


def test_flops_grow_quadratically_in_conv2():
    # conv2 dominates at width: doubling filters roughly quadruples its cost.
    ratio = forward_flops_per_sample(256) / forward_flops_per_sample(128)
    assert 3.5 < ratio < 4.0


def test_zero_filters_rejected():
    with pytest.raises(ValueError, match="filters must be >= 1"):
        build_model(0)

"""One Ctrl-C is never lost: a KeyboardInterrupt swallowed on the way (in a __del__, as JAX's
buffer callbacks do) is raised again at the session's next safe point."""

import signal

import pytest

from cnnbench import interrupt


@pytest.fixture
def handler():
    interrupt.install()
    yield
    signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupt._requested = False


def test_a_swallowed_ctrl_c_is_raised_again_at_the_next_check(handler):
    interrupt.check()  # nothing asked yet
    try:
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass  # dropped, as an exception raised inside a destructor is
    with pytest.raises(KeyboardInterrupt):
        interrupt.check()
    assert interrupt.requested()


def test_a_second_ctrl_c_is_python_s_own(handler):
    with pytest.raises(KeyboardInterrupt):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

"""Results to readable answers: tables, figures, `summary.md`, `results.csv`, the README
headline, and a noise-aware compare. Imports run one way: `read` -> `frame` -> `tables`
-> `render` / `figures` / `headline` / `compare` -> `cli`.

    python -m cnnbench.report reports/runs/ --out reports/ --readme README.md
"""

#!/usr/bin/env python3
"""Writes the source notebooks (no outputs) from the cell lists in scripts/notebooks/<name>.py:
    python3 scripts/make_notebooks.py [name ...]"""
import importlib.util, json, pathlib, sys

META = {"kernelspec": {"display_name": "Rust", "language": "rust", "name": "rust"},
        "language_info": {"codemirror_mode": "rust", "file_extension": ".rs", "mimetype": "text/rust",
                          "name": "Rust", "pygment_lexer": "rust", "version": ""}}

def nb(cells):
    out = []
    for kind, src in cells:
        c = {"cell_type": kind, "metadata": {}, "source": src.strip("\n").splitlines(keepends=True)}
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        out.append(c)
    return {"cells": out, "metadata": META, "nbformat": 4, "nbformat_minor": 5}

def main():
    """Every scripts/notebooks/<name>.py defines CELLS = [(kind, source), ...] -> notebooks/<name>.ipynb."""
    here = pathlib.Path(__file__).resolve().parent
    root = here.parent / "notebooks"
    names = sys.argv[1:] or sorted(p.stem for p in (here / "notebooks").glob("*.py"))
    for name in names:
        spec = importlib.util.spec_from_file_location(name, here / "notebooks" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        (root / f"{name}.ipynb").write_text(json.dumps(nb(mod.CELLS), indent=1, ensure_ascii=False) + "\n")
        print("wrote", root / f"{name}.ipynb")

if __name__ == "__main__":
    main()

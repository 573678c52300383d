"""Executes a notebook with nbclient on the tsparallel kernel and saves it with its outputs.

usage: run_notebook.py INPUT.ipynb OUTPUT.ipynb [KERNEL_NAME]
Cells tagged `raises-exception` may fail; any other failing cell fails the run (exit code 1).
"""
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main(source, target, kernel_name="tsparallel"):
    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(notebook, kernel_name=kernel_name, timeout=180, startup_timeout=120)
    try:
        client.execute()
    except CellExecutionError as err:
        nbformat.write(notebook, target)
        print(f"cell failed: {err}", file=sys.stderr)
        return 1
    nbformat.write(notebook, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""Recipes: data only (YAML), Containerfile templates, files and C sources built into images.

Python code in other rooms finds them through `RECIPES_DIR`; nothing here imports recapp.
"""

from pathlib import Path

RECIPES_DIR = Path(__file__).resolve().parent

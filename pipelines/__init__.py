"""Beam side of wirewatch: options, the steps of the pipeline, the graph and the CLI."""

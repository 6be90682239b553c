"""Pure logic of wirewatch: no Beam import here (``tests/test_layout.py`` checks it).

Beam steps in ``wirewatch.pipelines`` call these functions; they are tested and benchmarked
directly.
"""

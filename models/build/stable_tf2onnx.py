"""Runs tf2onnx's command line with Node hashed by creation order instead of by
address. tf2onnx keeps graph nodes in sets (the transpose optimiser walks
`set(node.inputs)`), and with address hashing their order, and so which Transpose and
Reshape nodes survive, changed from run to run: the Blendshape V2 conversion gave 188
to 192 nodes. It also keeps names in sets, so the string hash is fixed as well
(PYTHONHASHSEED=0, set here by starting again). Then every run gives the same graph.

Usage: the arguments of `python -m tf2onnx.convert`.
"""

import itertools
import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})

from tf2onnx import convert  # noqa: E402
from tf2onnx.graph import Node  # noqa: E402

_created = itertools.count()
_init = Node.__init__


def _numbered_init(self, *args, **kwargs):
    self._created = next(_created)
    _init(self, *args, **kwargs)


Node.__init__ = _numbered_init
Node.__hash__ = lambda self: self._created

if __name__ == "__main__":
    sys.argv[0] = "tf2onnx.convert"
    convert.main()

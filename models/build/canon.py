"""Rewrites an ONNX file tf2onnx made into a canonical form, in place: nodes named n0,
n1, ... in graph order, every other tensor t0, t1, ... in order of first use,
initializers in that order, symbolic dimensions N0, N1, ...

tf2onnx numbers the names it invents in an order that changes from run to run (two
conversions of one file differ only there), so only the canonical form can be pinned:
with it, every build of a file gives the same bytes. Names are all that change: the
graph, its weights and its outputs are untouched. Usage: canon.py FILE.onnx
"""

import sys

import onnx


def canonicalise(path):
    model = onnx.load(path)
    g = model.graph
    keep = {i.name for i in g.input} | {o.name for o in g.output}
    names = {}

    def rename(name):
        if name == "" or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for k, node in enumerate(g.node):
        node.name = f"n{k}"
        for i, name in enumerate(node.input):
            node.input[i] = rename(name)
        for i, name in enumerate(node.output):
            node.output[i] = rename(name)
    for tensor in g.initializer:
        tensor.name = rename(tensor.name)
    for info in g.value_info:
        info.name = rename(info.name)
    first_use = {name: k for k, name in enumerate(names.values())}
    ordered = sorted(g.initializer, key=lambda t: first_use.get(t.name, len(first_use)))
    del g.initializer[:]
    g.initializer.extend(ordered)
    dims = {}
    for info in list(g.input) + list(g.output) + list(g.value_info):
        for d in info.type.tensor_type.shape.dim:
            if d.dim_param:
                d.dim_param = dims.setdefault(d.dim_param, f"N{len(dims)}")
    onnx.save(model, path)


if __name__ == "__main__":
    canonicalise(sys.argv[1])

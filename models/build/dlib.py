"""Converts dlib's face recognition ResNet from dlib's own serialisation (.dat) into the
ONNX graph the manifest pins, with nothing but numpy and onnx: no dlib build is needed.

The .dat holds the network of dlib's dnn_face_recognition_ex.cpp (`anet_type`), written
outermost layer first, each layer's parameters after its sub-network. `read_layers`
walks that layout and checks every layer's kind and shape against the architecture
below, so a different file is refused rather than converted into something else.

The graph: dlib's input normalisation `(x - mean) / 256` built in, each affine layer
folded into the convolution before it, and a Pad wherever dlib's `add_prev` sums two
tensors of different shapes (dlib zero-extends the smaller one: channels and the
bottom/right edge). Names come from one counter in creation order, as in the pinned file.

Usage: dlib.py DAT OUT_ONNX
"""

import math
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DOC = (
    "dlib_face_recognition_resnet_model_v1 (Davis King, public domain / CC0) converted to ONNX. "
    "Input: 1x3x150x150 float, RGB, raw 0..255, a dlib-style 150x150 face chip (padding 0.25). "
    "Output: 128-d descriptor; same person when Euclidean distance < 0.6 (dlib's threshold)."
)
# The producer name the pinned file was written with; kept so that the bytes agree.
PRODUCER = "dlib-dat-to-onnx (scratch)"
SIDE = 150


class Reader:
    """dlib's serialisation: an integer is a control byte (low nibble: how many
    little-endian bytes follow; bit 7: negative) and its bytes; a string is its length
    and its bytes; a float is an integer mantissa and exponent; a tensor is a version,
    its four dimensions and raw little-endian float32 values; a bool is '0' or '1'."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def int(self):
        assert self.at < len(self.data), "the file ends inside the network"
        control = self.data[self.at]
        count = control & 0x0F
        value = int.from_bytes(self.data[self.at + 1 : self.at + 1 + count], "little")
        self.at += 1 + count
        return -value if control & 0x80 else value

    def ints(self, n):
        return [self.int() for _ in range(n)]

    def str(self):
        n = self.int()
        value = self.data[self.at : self.at + n].decode("ascii")
        self.at += n
        return value

    def float(self):
        mantissa = self.int()
        return math.ldexp(mantissa, self.int())

    def bools(self, n):
        value = self.data[self.at : self.at + n]
        self.at += n
        assert set(value) <= set(b"01"), f"bools at {self.at - n}: {value!r}"

    def tensor(self):
        version, *dims = self.ints(5)
        assert version == 2, f"tensor version {version}"
        count = int(np.prod(dims))
        assert self.at + 4 * count <= len(self.data), "the file ends inside a tensor"
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.at)
        self.at += 4 * count
        return values.astype(np.float32).reshape(dims)

    def expect(self, value, what):
        got = self.int() if isinstance(value, int) else self.str()
        assert got == value, f"{what}: expected {value!r}, found {got!r} at {self.at}"


# The forward layer sequence of anet_type, as (kind, arguments): a residual block is
# tag1, con, affine, relu, con, affine, add_prev1, relu; a down block puts
# tag2 (the block), skip1 (back to tag1), avg_pool 2x2 before its add_prev2.
def architecture():
    layers = [("con", 32, 7, 2), ("affine",), ("relu",), ("max_pool", 3, 2)]

    def block(n, stride, down):
        body = [("tag",), ("con", n, 3, stride), ("affine",), ("relu",), ("con", n, 3, 1), ("affine",)]
        if down:
            body += [("tag",), ("skip",), ("avg_pool", 2, 2)]
        return body + [("add_prev", down), ("relu",)]

    for n, count, down in ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True)):
        for i in range(count):
            layers += block(n, 2 if down and i == 0 else 1, down and i == 0)
    return layers + [("avg_pool_everything",), ("fc", 128)]


def read_layers(data):
    """The .dat's parameters in forward order: the input's means, then one entry per
    layer of `architecture()` (a con's filters and biases, an affine's gamma and beta,
    the fc's weights)."""
    r = Reader(data)
    arch = architecture()
    r.expect(1, "loss version")
    r.expect("loss_metric_2", "loss")
    r.float(), r.float()  # margin and distance threshold: training only
    # The nested layers' versions, outermost first: 2 for a layer with parameters or a
    # computation, 1 for tag and skip, 3 for the first layer (which also owns the input).
    versions = r.ints(len(arch))
    wanted = [1 if kind[0] in ("tag", "skip") else 2 for kind in arch]
    wanted[0] = 3
    assert versions == wanted[::-1], "layer nesting differs from dlib's face recognition network"
    r.expect("input_rgb_image_sized", "input")
    mean = [r.float() for _ in range(3)]
    r.expect(SIDE, "input rows")
    r.expect(SIDE, "input columns")

    params, channels = [], 3
    for i, layer in enumerate(arch):
        kind = layer[0]
        if kind in ("tag", "skip"):
            params.append(None)
            continue
        if kind == "con":
            _, n, k, stride = layer
            r.expect("con_4", "con")
            p = r.tensor().reshape(-1)
            pad = k // 2 if stride == 1 else 0
            assert r.ints(7) == [n, k, k, stride, stride, pad, pad], f"layer {i}: con shape"
            assert r.ints(5) == [1, n, channels, k, k], f"layer {i}: filters"
            assert r.ints(5) == [1, 1, n, 1, 1], f"layer {i}: biases"
            [r.float() for _ in range(4)]  # learning rate and weight decay multipliers
            w = p[: n * channels * k * k].reshape(n, channels, k, k)
            params.append((w, p[n * channels * k * k :]))
            channels = n
        elif kind == "affine":
            r.expect("affine_", "affine")
            p = r.tensor().reshape(-1)
            assert r.ints(5) == [1, 1, channels, 1, 1] and r.ints(5) == [1, 1, channels, 1, 1], f"layer {i}: affine"
            r.expect(0, "affine mode (convolutional)")
            params.append((p[:channels], p[channels:]))
        elif kind == "fc":
            r.expect("fc_2", "fc")
            r.expect(layer[1], "fc outputs")
            r.expect(channels, "fc inputs")
            w = r.tensor().reshape(channels, layer[1])
            r.ints(10)  # the weights' and biases' views
            r.expect(1, "fc bias mode (no bias)")
            [r.float() for _ in range(4)]
            params.append(w)
        else:
            name, sizes = {
                "relu": ("relu_", None),
                "add_prev": ("add_prev_", None),
                "max_pool": ("max_pool_2", [3, 3, 2, 2, 0, 0]),
                "avg_pool": ("avg_pool_2", [2, 2, 2, 2, 0, 0]),
                "avg_pool_everything": ("avg_pool_2", [0, 0, 1, 1, 0, 0]),
            }[kind]
            r.expect(name, kind)
            if sizes:
                assert r.ints(6) == sizes, f"layer {i}: {kind} sizes"
            params.append(None)
        r.bools(3)  # set-up and gradient flags
        for _ in range(3):  # gradients and cached output: empty in a saved network
            assert r.tensor().size == 0, f"layer {i}: a non-empty training tensor"
        if i == 0:
            r.expect(1, "sample expansion factor")
    assert r.at == len(data), f"{len(data) - r.at} bytes after the network"
    return np.array(mean, dtype=np.float32), params


class Graph:
    def __init__(self):
        self.count, self.nodes, self.initializers = 0, [], []

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def constant(self, prefix, array):
        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, prefix, **attrs):
        # A few values have plain names; the rest are numbered.
        out = prefix if prefix in ("centred", "normalized", "pooled", "flat", "descriptor") else self.name(prefix)
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out


def convert(data):
    mean, params = read_layers(data)
    g = Graph()
    x = g.node("Sub", ["image", g.constant("mean", mean.reshape(1, 3, 1, 1))], "centred")
    x = g.node("Mul", [x, g.constant("scale", np.array([1 / 256], dtype=np.float32))], "normalized")
    arch = architecture()
    shape = (3, SIDE, SIDE)  # channels, rows, columns
    tags, i = {}, 0
    while i < len(arch):
        kind = arch[i]
        if kind[0] == "con":
            _, n, k, stride = kind
            (w, b), (gamma, beta) = params[i], params[i + 1]
            pad = k // 2 if stride == 1 else 0
            out = g.name("conv")
            weights = g.constant("W", w * gamma[:, None, None, None])
            bias = g.constant("B", b * gamma + beta)
            g.nodes.append(
                helper.make_node("Conv", [x, weights, bias], [out], kernel_shape=[k, k], pads=[pad] * 4, strides=[stride] * 2)
            )
            x, i = out, i + 2
            shape = (n, *((side + 2 * pad - k) // stride + 1 for side in shape[1:]))
            continue
        if kind[0] == "relu":
            x = g.node("Relu", [x], "relu")
        elif kind[0] == "max_pool":
            x = g.node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2])
            shape = (shape[0], (shape[1] - 3) // 2 + 1, (shape[2] - 3) // 2 + 1)
        elif kind[0] == "tag":
            # The first tag of a block is tag1 (its input), the second tag2 (its output).
            tags["tag2" if "tag1" in tags else "tag1"] = (x, shape)
        elif kind[0] == "skip":
            x, shape = tags["tag1"]
        elif kind[0] == "avg_pool":
            x = g.node("AveragePool", [x], "avgpool", kernel_shape=[2, 2], strides=[2, 2])
            shape = (shape[0], (shape[1] - 2) // 2 + 1, (shape[2] - 2) // 2 + 1)
        elif kind[0] == "add_prev":
            other, other_shape = tags["tag2" if kind[1] else "tag1"]
            out = g.name("add")
            full = tuple(max(a, b) for a, b in zip(shape, other_shape))
            inputs = []
            for value, value_shape in ((x, shape), (other, other_shape)):
                if value_shape != full:
                    grow = [f - s for f, s in zip(full, value_shape)]
                    padded = g.name("pad")
                    pads = g.constant("pads", np.array([0, 0, 0, 0, 0, *grow], dtype=np.int64))
                    g.nodes.append(helper.make_node("Pad", [value, pads], [padded], mode="constant"))
                    value = padded
                inputs.append(value)
            g.nodes.append(helper.make_node("Add", inputs, [out]))
            x, shape, tags = out, full, {}
        elif kind[0] == "avg_pool_everything":
            x = g.node("GlobalAveragePool", [x], "pooled")
            x = g.node("Flatten", [x], "flat", axis=1)
        elif kind[0] == "fc":
            x = g.node("MatMul", [x, g.constant("fc", params[i])], "descriptor")
        i += 1

    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, [1, 128])],
        g.initializers,
    )
    model = helper.make_model(graph, producer_name=PRODUCER, doc_string=DOC, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    src, dst = sys.argv[1:3]
    onnx.save(convert(open(src, "rb").read()), dst)

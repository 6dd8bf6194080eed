#!/usr/bin/env python3
"""An independent safetensors reader/writer (stdlib only: struct + json) to
cross-check tril's.

  safetensors_ref.py write DIR   writes DIR/py.safetensors the way the official
                                 `safetensors` library does
  safetensors_ref.py read DIR    reads DIR/c.safetensors (written by tril) and
                                 checks its layout and every value
  safetensors_ref.py corpus DIR  writes small valid and truncated files (the
                                 fuzzer's seed corpus)

The tensors (names, dtypes, shapes, values) are defined here and, identically,
in tests/test_safetensors_interop.c.
"""
import json
import os
import struct
import sys

# dtype -> (struct code, item size)
CODES = {"F64": ("d", 8), "F32": ("f", 4), "F16": ("e", 2), "BF16": (None, 2),
         "I64": ("q", 8), "I32": ("i", 4), "U16": ("H", 2), "U8": ("B", 1),
         "BOOL": ("?", 1)}

TENSORS = [  # name, dtype, shape, values
    ("w_f32", "F32", [2, 3], [i * 0.5 - 1.25 for i in range(6)]),
    ("h_f16", "F16", [5], [(i - 2) * 0.375 for i in range(5)]),
    ("b_bf16", "BF16", [2, 2], [0.25 - i * 0.75 for i in range(4)]),
    ("d_f64", "F64", [], [3.141592653589793]),
    ("ids_i64", "I64", [3], [-1, 1 << 40, 7]),
    ("i_i32", "I32", [2], [-2147483648, 123456]),
    ("x_u16", "U16", [2], [65535, 1]),
    ("u_u8", "U8", [4], [0, 1, 127, 255]),
    ("m_bool", "BOOL", [3], [True, False, True]),
    ("e_f32", "F32", [0, 4], []),
]
# The reference library's Dtype enum order ("increasing alignment"); its
# writer sorts tensors by this, descending, then by name.
RUST_DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                    "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
C_METADATA = {"format": "pt", "writer": "tril",
              "note": "quote \" backslash \\ newline \n tab \t \u00e9 \u2603"}


def encode(dtype, values):
    code, _ = CODES[dtype]
    if dtype == "BF16":  # the upper half of the float32 (values are exact in bf16)
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return struct.pack("<%d%s" % (len(values), code), *values)


def decode(dtype, raw):
    code, size = CODES[dtype]
    n = len(raw) // size
    if dtype == "BF16":
        return [struct.unpack("<f", b"\0\0" + raw[2 * i:2 * i + 2])[0] for i in range(n)]
    return list(struct.unpack("<%d%s" % (n, code), raw))


def serialize(tensors, metadata):
    """As safetensors' Rust `serialize`: metadata first, tensors sorted by
    dtype (descending enum order) then name, data packed in that order, compact
    JSON header padded with spaces to a multiple of 8."""
    order = sorted(tensors, key=lambda t: (-RUST_DTYPE_ORDER.index(t[1]), t[0]))
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, values in order:
        blob = encode(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check_c_file(path):
    blob = open(path, "rb").read()
    (hl,) = struct.unpack("<Q", blob[:8])
    if hl % 8 or 8 + hl > len(blob):
        fail("header length %d (file %d bytes)" % (hl, len(blob)))
    text = blob[8:8 + hl].decode("utf-8")
    if not text.startswith("{") or text.rstrip(" ") != text.rstrip():
        fail("header must start with '{' and be padded with spaces only")
    header = json.loads(text)
    keys = list(header)
    if keys[0] != "__metadata__" or header["__metadata__"] != C_METADATA:
        fail("metadata: %r" % header.get("__metadata__"))
    data = blob[8 + hl:]
    # The reference reader's rule: ranges contiguous from 0 to the end.
    offset = 0
    if keys[1:] != [t[0] for t in TENSORS]:
        fail("tensor order %r" % keys[1:])
    for name, dtype, shape, values in TENSORS:
        info = header[name]
        if list(info) != ["dtype", "shape", "data_offsets"]:
            fail("%s: keys %r" % (name, list(info)))
        if info["dtype"] != dtype or info["shape"] != shape:
            fail("%s: %r" % (name, info))
        begin, end = info["data_offsets"]
        if begin != offset or end - begin != len(values) * CODES[dtype][1]:
            fail("%s: offsets %r, expected to start at %d" % (name, info["data_offsets"], offset))
        got = decode(dtype, data[begin:end])
        if got != list(values) or data[begin:end] != encode(dtype, values):
            fail("%s: values %r != %r (bytes %s)" % (name, got, values, data[begin:end].hex()))
        offset = end
    if offset != len(data):
        fail("data section is %d bytes, tensors cover %d" % (len(data), offset))
    print("ok: %s: %d tensors and metadata as expected" % (path, len(TENSORS)))


def write_corpus(out):
    os.makedirs(out, exist_ok=True)

    # Headers with room to spare (64 extra spaces): the fuzzer's insertions
    # then shift padding instead of breaking the length prefix.
    def raw(header, data, pad=64):
        text = json.dumps(header, separators=(",", ":")).encode()
        text = text.ljust(len(text) + pad + (8 - (len(text) + pad) % 8) % 8)
        return struct.pack("<Q", len(text)) + text + data

    def entry(dtype, shape, begin, end):
        return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}

    files = {
        "valid_all_dtypes": serialize(TENSORS, {"format": "pt"}),
        "valid_one": serialize([("x", "F32", [2], [1.0, 2.0])], None),
        "valid_empty": serialize([], None),
        "valid_meta_only": serialize([], {"a": "b", "c": ""}),
        "valid_scalar_gap": raw({"s": entry("U8", [], 3, 4), "z": entry("BOOL", [0], 4, 4)},
                                b"\1\2\3\4"),
        "padded_two": raw({"__metadata__": {"k": "v"}, "a": entry("F16", [2, 2], 0, 8),
                           "b": entry("I8", [3], 8, 11)}, bytes(range(11))),
        "bad_overlap": raw({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)},
                           bytes(12)),
        "bad_dtype": raw({"a": entry("F33", [1], 0, 4)}, bytes(4)),
        "bad_size": raw({"a": entry("F32", [3], 0, 8)}, bytes(8)),
        "bad_meta": raw({"__metadata__": {"k": 1}}, b""),
        "bad_beyond": raw({"a": entry("U8", [9], 0, 9)}, bytes(4)),
    }
    full = files["valid_all_dtypes"]
    for cut in (7, 8, 40, len(full) - 3):
        files["trunc_%d" % cut] = full[:cut]
    for name, blob in files.items():
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(blob)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "read", "corpus"):
        print(__doc__)
        sys.exit(2)
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "write":
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "py.safetensors"), "wb") as f:
            f.write(serialize(TENSORS, {"format": "pt"}))
        print("wrote", os.path.join(out, "py.safetensors"))
    elif mode == "read":
        check_c_file(os.path.join(out, "c.safetensors"))
    else:
        write_corpus(out)


if __name__ == "__main__":
    main()

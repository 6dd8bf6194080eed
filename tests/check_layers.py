#!/usr/bin/python3
"""Checks that tril's private includes point down the layer order.

    check_layers.py ROOT        check ROOT/src and ROOT/include
    check_layers.py --self-test prove the check fails where it should

Layers, lowest first (docs/ARCHITECTURE.md):

    core  ->  attention, io, tokenizer, viz (siblings)  ->  model  ->  train  ->  cli

A file in src/L may include a private header "X/..." (one in src/X) only when
X is L or a strictly lower layer; siblings never include each other's private
headers. src/cli is the command-line program, a client of the library: it
includes only "cli/..." and the public "tril/..." headers. Public headers
(include/tril/*.h) include only other public headers and system headers.

Each violation is printed as `path:line: src/L may not include X/...: reason`
and the exit status is 1 if there is any. A folder under src/ that is not in
LAYERS is an error too: a new layer must be placed in the order here.
Python 3 standard library only.
"""

import os
import re
import subprocess
import sys
import tempfile

# Folder under src/ -> rank. Equal ranks are siblings. A new layer goes here.
LAYERS = {
    "core": 0,
    "attention": 1,
    "io": 1,
    "tokenizer": 1,
    "viz": 1,
    "model": 2,
    "train": 3,
    "cli": 4,
}
# Layers that are clients of the library: they use only themselves and the
# public headers, never another layer's private ones.
CLIENTS = {"cli"}
PUBLIC = "tril"  # include/tril, included as "tril/x.h"

SOURCE_SUFFIXES = (".c", ".h", ".inc")
INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include(?:_next)?\b[ \t]*(.*)$')
TARGET_RE = re.compile(r'^(?:"([^"]*)"|<([^>]*)>)')


def strip_comments(text):
    """The text with comments blanked (newlines kept, so lines still count)."""
    out = []
    i, n = 0, len(text)
    state = None  # None, '//', '/*', '"', "'"
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if state is None:
            if c == "/" and nxt == "/":
                state, i = "//", i + 2
                out.append("  ")
                continue
            if c == "/" and nxt == "*":
                state, i = "/*", i + 2
                out.append("  ")
                continue
            if c in "\"'":
                state = c
            out.append(c)
        elif state == "//":
            if c == "\n":
                state = None
                out.append(c)
            elif c == "\\" and nxt == "\n":
                out.append(" \n")
                i += 2
                continue
            else:
                out.append(" ")
        elif state == "/*":
            if c == "*" and nxt == "/":
                state, i = None, i + 2
                out.append("  ")
                continue
            out.append("\n" if c == "\n" else " ")
        else:  # inside a string or character literal
            if c == "\\" and i + 1 < n:
                out.append(text[i:i + 2])
                i += 2
                continue
            if c == state or c == "\n":
                state = None
            out.append(c)
        i += 1
    return "".join(out)


def includes(path):
    """(line number, text inside the quotes or brackets, quoted?) per include."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = strip_comments(f.read())
    for lineno, line in enumerate(text.split("\n"), 1):
        m = INCLUDE_RE.match(line)
        if not m:
            continue
        t = TARGET_RE.match(m.group(1).strip())
        if not t:
            yield lineno, m.group(1).strip(), None  # computed: #include MACRO
        elif t.group(1) is not None:
            yield lineno, t.group(1), True
        else:
            yield lineno, t.group(2), False


def where(root, rel_path):
    """What a root-relative path lies in: ('layer', X), ('public', None) or None."""
    parts = rel_path.replace(os.sep, "/").split("/")
    if len(parts) >= 3 and parts[0] == "src":
        return ("layer", parts[1])
    if len(parts) >= 2 and parts[0] == "include":
        return ("public", None)
    return None


def target_of(root, including_file, name, quoted):
    """What an include names: ('layer', X), ('public', None) or None (system).

    A quoted name is looked for first beside the including file, as the
    compiler does ("tile_util.h", "../core/simd.h"); otherwise its first
    component names the folder (-I src and -I include: "core/simd.h",
    "tril/error.h")."""
    if quoted:
        here = os.path.dirname(including_file)
        beside = os.path.normpath(os.path.join(here, name))
        if os.path.exists(beside) or name.startswith(("./", "../")):
            rel = os.path.relpath(beside, root)
            if rel.startswith(".."):
                return None
            found = where(root, rel)
            if found is not None:
                return found
    parts = os.path.normpath(name).replace(os.sep, "/").split("/")
    if len(parts) >= 2 and parts[0] == PUBLIC:
        return ("public", None)
    if len(parts) >= 2 and parts[0] in LAYERS:
        return ("layer", parts[0])
    if len(parts) >= 3 and parts[0] == "src" and parts[1] in LAYERS:
        return ("layer", parts[1])
    return None


def why_not(layer, target):
    """Why src/<layer> may not include src/<target>'s private headers, or None."""
    if target == layer:
        return None
    if target not in LAYERS:
        return "src/%s is not a known layer" % target
    if layer in CLIENTS:
        return ("src/%s is a client of the library: it includes only "
                "\"%s/...\" and the public \"tril/...\" headers" % (layer, layer))
    if target in CLIENTS:
        return "src/%s is a client of the library, not a layer to build on" % target
    if LAYERS[target] == LAYERS[layer]:
        return ("%s and %s are sibling layers: neither uses the other's "
                "private headers (use its public header in include/tril, or "
                "move the shared code down into core)" % (layer, target))
    if LAYERS[target] > LAYERS[layer]:
        return ("%s is above %s (upward include): move what both need down, "
                "or the caller up" % (target, layer))
    return None


def source_files(top):
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.endswith(SOURCE_SUFFIXES):
                yield os.path.join(dirpath, fn)


def check(root):
    """Returns (violations, errors): lines to print."""
    violations, errors = [], []
    src = os.path.join(root, "src")
    inc = os.path.join(root, "include")
    if not os.path.isdir(src):
        return [], ["%s: no src/ folder here (give the project's root)" % root]

    for entry in sorted(os.listdir(src)):
        full = os.path.join(src, entry)
        if os.path.isdir(full) and entry not in LAYERS:
            errors.append(
                "src/%s: unknown layer folder '%s': place it in the layer "
                "order (LAYERS in tests/check_layers.py and "
                "docs/ARCHITECTURE.md) before it may hold code" % (entry, entry))
        elif os.path.isfile(full) and entry.endswith(SOURCE_SUFFIXES):
            errors.append("src/%s: source outside any layer folder" % entry)

    for layer in sorted(LAYERS):
        top = os.path.join(src, layer)
        if not os.path.isdir(top):
            continue
        for path in source_files(top):
            rel = os.path.relpath(path, root)
            for lineno, name, quoted in includes(path):
                if quoted is None:
                    violations.append(
                        "%s:%d: src/%s may not include %s: a computed #include "
                        "cannot be checked; include headers by their path"
                        % (rel, lineno, layer, name))
                    continue
                t = target_of(root, path, name, quoted)
                if t is None or t[0] == "public":
                    continue
                reason = why_not(layer, t[1])
                if reason:
                    violations.append("%s:%d: src/%s may not include %s/...: %s"
                                      % (rel, lineno, layer, t[1], reason))

    if os.path.isdir(inc):
        for path in source_files(inc):
            rel = os.path.relpath(path, root)
            folder = os.path.relpath(os.path.dirname(path), root)
            for lineno, name, quoted in includes(path):
                if quoted is None:
                    violations.append(
                        "%s:%d: %s may not include %s: a computed #include "
                        "cannot be checked" % (rel, lineno, folder, name))
                    continue
                t = target_of(root, path, name, quoted)
                if t is not None and t[0] == "layer":
                    violations.append(
                        "%s:%d: %s may not include %s/...: public headers "
                        "include only public \"tril/...\" headers and system "
                        "headers (src/ is not installed)"
                        % (rel, lineno, folder, t[1]))
    return violations, errors


def main_check(root):
    violations, errors = check(root)
    for line in errors:
        print("error: " + line)
    for line in violations:
        print(line)
    if errors or violations:
        print("check_layers: %d include violation(s), %d error(s); the layer "
              "rules are in docs/ARCHITECTURE.md" % (len(violations), len(errors)),
              file=sys.stderr)
        return 1
    return 0


# --- self-test ----------------------------------------------------------------

def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


CLEAN_TREE = {
    "include/tril/error.h": '#include <stddef.h>\n',
    "include/tril/attention.h": '#include "tril/error.h"\n#include <stdint.h>\n',
    "src/core/parallel.h": '#include "tril/error.h"\n',
    "src/core/cpu.c": '#include "core/parallel.h"\n#include <stdio.h>\n',
    "src/attention/attention_internal.h": '#include "core/parallel.h"\n',
    "src/attention/tile_util.h": '#include "attention_internal.h"\n',
    "src/attention/attention.c":
        '#include "attention/tile_util.h"\n#include "../core/parallel.h"\n'
        '#include "tril/attention.h"\n',
    "src/io/io_internal.h": '#include <cjson/cJSON.h>\n',
    "src/io/read.c": '#include "io/io_internal.h"\n',
    "src/tokenizer/tok.c": '#include "core/parallel.h"\n',
    "src/viz/canvas.c": '#include <core/parallel.h>\n',
    "src/model/kernels.h": '#include "core/parallel.h"\n',
    "src/model/load.c":
        '#include "model/kernels.h"\n#include "io/io_internal.h"\n'
        '#include "attention/attention_internal.h"\n',
    "src/train/adamw.c": '#include "model/kernels.h"\n#include "core/parallel.h"\n',
    "src/cli/cli.h": '#include "tril/attention.h"\n',
    "src/cli/main.c":
        '#include "cli/cli.h"\n#include "tril/error.h"\n'
        '/* #include "model/kernels.h" in a comment is no include */\n'
        '// #include "core/parallel.h"\n'
        'static const char *s = "#include \\"core/parallel.h\\"";\n',
}

# (file, line, text, expected fragment of the report)
BAD_INCLUDES = [
    ("src/core/cpu.c", '#include "model/kernels.h"\n',
     "src/core may not include model/...: model is above core (upward"),
    ("src/attention/attention.c", '#  include\t"io/io_internal.h"\n',
     "src/attention may not include io/...: attention and io are sibling"),
    ("src/cli/main.c", '# include "core/parallel.h"\n',
     "src/cli may not include core/...: src/cli is a client of the library"),
    ("include/tril/attention.h", '#include "core/parallel.h"\n',
     "include/tril may not include core/...: public headers include only"),
    ("src/model/load.c", '#include "train/adamw.h"\n',
     "src/model may not include train/...: train is above model"),
    ("src/viz/canvas.c", '#include <tokenizer/tok.h>\n',
     "src/viz may not include tokenizer/...: viz and tokenizer are sibling"),
    ("src/tokenizer/tok.c", '#include "../model/kernels.h"\n',
     "src/tokenizer may not include model/...: model is above tokenizer"),
]


def run_checker(root):
    p = subprocess.run([sys.executable, os.path.abspath(__file__), root],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def self_test():
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="check_layers_") as tmp:
        clean = os.path.join(tmp, "clean")
        for rel, text in CLEAN_TREE.items():
            write(clean, rel, text)
        rc, out, err = run_checker(clean)
        expect(rc == 0 and out == "",
               "clean tree: expected exit 0 and no output, got %d:\n%s%s" % (rc, out, err))

        bad = os.path.join(tmp, "bad")
        for rel, text in CLEAN_TREE.items():
            write(bad, rel, text)
        expected = []
        for rel, line, fragment in BAD_INCLUDES:
            path = os.path.join(bad, rel)
            with open(path, encoding="utf-8") as f:
                lineno = f.read().count("\n") + 1
            with open(path, "a", encoding="utf-8") as f:
                f.write(line)
            expected.append(("%s:%d: " % (rel, lineno), fragment))
        rc, out, err = run_checker(bad)
        lines = out.splitlines()
        expect(rc == 1, "bad tree: expected exit 1, got %d" % rc)
        for prefix, fragment in expected:
            expect(any(l.startswith(prefix) and fragment in l for l in lines),
                   "bad tree: no report '%s...%s' in:\n%s" % (prefix, fragment, out))
        expect(len(lines) == len(expected),
               "bad tree: expected %d reports, got %d:\n%s"
               % (len(expected), len(lines), out))

        # Each bad include alone fails the check (none is hidden by another).
        for rel, line, fragment in BAD_INCLUDES:
            one = os.path.join(tmp, "one_" + rel.replace("/", "_"))
            for r, text in CLEAN_TREE.items():
                write(one, r, text + (line if r == rel else ""))
            rc, out, _ = run_checker(one)
            expect(rc == 1 and len(out.splitlines()) == 1 and fragment in out,
                   "%s alone: expected one report '%s', got %d:\n%s"
                   % (line.strip(), fragment, rc, out))

        unknown = os.path.join(tmp, "unknown")
        for rel, text in CLEAN_TREE.items():
            write(unknown, rel, text)
        write(unknown, "src/sched/sched.c", '#include "core/parallel.h"\n')
        rc, out, _ = run_checker(unknown)
        expect(rc == 1 and "unknown layer folder 'sched'" in out,
               "unknown folder: expected a failure naming src/sched, got %d:\n%s" % (rc, out))

        rc, out, _ = run_checker(os.path.join(tmp, "nowhere"))
        expect(rc == 1, "a root without src/: expected exit 1, got %d" % rc)

    if failures:
        for f in failures:
            print("FAIL: " + f)
        return 1
    print("check_layers self-test: clean tree passes; %d bad includes, an unknown "
          "folder and a missing src/ are each reported" % len(BAD_INCLUDES))
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) == 2 and not argv[1].startswith("-"):
        return main_check(argv[1])
    print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

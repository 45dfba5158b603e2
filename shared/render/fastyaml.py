"""The fast path of rendering: a manifest file's documents parsed by yaml-rs (Rust), used only
when the answer is the one PyYAML's careful path would give.

PyYAML through libyaml (YAML 1.1, the resolution `kubectl` shares) spends most of a render
building a node per scalar and a position per node. yaml-rs builds Python values directly,
several times faster, but speaks YAML 1.2 and accepts more: `yes`/`on` stay strings, `0755`
is 755 not 493, `1e3` is a float, `2001-12-14` and `1:30` stay strings, tags are dropped
silently, `[a:]` or an empty block scalar read differently. So `documents` answers None (take
the careful path) whenever a file might hold any of that:

- in the text (`_RISKY`, `_exponent`, over a byte map of the text): non-ASCII, tabs, control
  characters, directives, `...`, anchors, aliases, tags, complex keys, numbers written with
  a leading zero, an underscore, a sign and a dot, or an exponent, flow collections that
  span lines, nest deep, or hold indicators, escapes or a colon without a space;
- in the values (`_plain`): a key that is not a string, or a string PyYAML would have
  resolved to something else had it been plain (`yes`, `on`, `=`, `<<`, timestamps, base-60
  numbers; quoted or not, as yaml-rs cannot tell), or one starting with a line break;
- anything yaml-rs refuses (duplicate keys included), a document count other than the
  text's, a document that is not a mapping.

Everything else (errors, positions, `List` kinds, the files above) stays with PyYAML, so
findings and messages are unchanged. tests/unit/test_fastyaml.py holds the claim against
PyYAML on every scalar form where the two were seen to differ, on random tokens, random
documents and random flow collections (millions of cases were run while writing it), and on
the repository's own manifests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeGuard

import yaml_rs


# Each byte mapped to its class, so the risky shapes are short patterns over few symbols:
# separators before a token: space -> ' ', `,` -> 'c', line breaks -> 'n', flow openers `[{`
# -> 'f'; flow closers `]}` -> 'g'; '0' -> '0', other digits -> '9', e/E -> 'e', signs -> 's',
# single quote -> 'q', double quote -> 'd', tags, anchors and aliases `!&*` -> '!', block
# scalar indicators `|>` -> 'b', '#' -> 'h', the other indicators `?%@=<` and backquote ->
# 'u', backslash -> 'k', control characters and tabs -> 'x', `.` `_` `:` as themselves,
# anything else -> 'a'. (Non-ASCII text takes the careful path.)
def _classes() -> bytes:
    table = bytearray(b"a" * 256)
    for chars, cls in (
        (b" ", b" "),
        (b",", b"c"),
        (b"\n\r", b"n"),
        (b"[{", b"f"),
        (b"]}", b"g"),
        (b"123456789", b"9"),
        (b"0", b"0"),
        (b"eE", b"e"),
        (b"+-", b"s"),
        (b"'", b"q"),
        (b'"', b"d"),
        (b"!&*", b"!"),
        (b"|>", b"b"),
        (b"#", b"h"),
        (b"?%@`=<", b"u"),
        (b"\\", b"k"),
        (b"._:", None),
    ):
        for c in chars:
            table[c] = cls[0] if cls else c
    for c in [*range(0, 32), 127]:
        if c not in (10, 13):
            table[c] = ord("x")
    return bytes(table)


_CLASSES = _classes()
# In a flow collection: a quoted string starting a token and closed on the line (a double-
# quoted one without escapes).
_QUOTED = rb"(?<=[ cf])(?:q[^qn]*q|d[^dnk]*d)"


def _closed(depth: int) -> bytes:
    """A flow collection closed on its line, nesting at most `depth` deep, in class bytes."""
    inner = b"[^fgnqd]|" + _QUOTED + (b"" if depth == 0 else b"|" + _closed(depth - 1))
    return b"f(?:" + inner + b")*g"


# Declined:
# - where a node starts (after a key's `:`, a `-`, a `,`, an opener or indentation): a tag,
#   an anchor or an alias;
# - at a token's start (after a space, `,`, a line break or an opener): `?`, `%`, `@`, `=`,
#   `<` or backquote; a zero followed by more (0755, 09, 0o17, 0X1F, 0e0); an underscore and
#   a digit (_1); a dot and an underscore (._5); a sign and a dot (+.5); a `#` after `,` or
#   an opener (not a comment there); an exponent (1e3, 1.0e3, .5E-3, 7_E4: `_exponent`);
# - a flow collection (`[...]`, `{...}`) not closed on its line or nested over 4 deep, or
#   holding (up to the end of its line, quoted strings skipped) an indicator, a backslash, a
#   quote inside a token, left open or escaped, or a colon not followed by a space;
# - anywhere: a control character or a tab.
# PyYAML and yaml-rs were seen to differ on each. Each pattern starts with one literal byte,
# so that the search skips to it (one alternation starting with a class of bytes was 20
# times slower).
_RISKY = tuple(
    re.compile(p)
    for p in (
        rb"n *!",
        rb": *!",
        rb"s +!",
        rb"c *!",
        rb"f *!",
        rb"0(?:(?<=[ cnf]0)|(?<=[ cnf]s0))[09ae_]",
        rb"_(?:(?<=[ cnf]_)|(?<=[ cnf]s_))[09_.]",
        rb"\.(?:(?<=[ cnf]\.)|(?<=[ cnf]s\.))_",
        rb"s(?<=[ cnf]s)\.",
        rb"u(?<=[ cnf]u)",
        rb"h(?<=[cf]h)",
        rb"f(?<=[ n]f)(?:(?!(?:[^fgnqd]|" + _QUOTED + rb"|" + _closed(2) + rb")*g[^fn]*n)"
        rb"|(?:[^nqd]|" + _QUOTED + rb")*?(?:[u!bhk]|:[^ n]|(?<![ cf])[qd]|q(?![^qn]*q)|d(?![^dnk]*d)))",
        rb"x",
    )
)
_DIGIT_E = re.compile(rb"e(?:(?<=[90]e)|(?<=[90][._]e))")
_NUMBER_PART = frozenset(b"90._")
_TOKEN_START = frozenset(b" cnf")


def _exponent(classes: bytes) -> bool:
    """A token of digits, dots and underscores (and a sign) running into an `e`: the forms of
    an exponent, which YAML 1.1 and 1.2 read differently (a host like app0.example is not)."""
    for found in _DIGIT_E.finditer(classes):
        i = found.start() - 1
        while classes[i] in _NUMBER_PART:
            i -= 1
        if classes[i] == ord("s"):
            i -= 1
        if classes[i] in _TOKEN_START:
            return True
    return False


_MARKER = re.compile(r"\n---(?=[ \r\n]|\Z)")  # searched in "\n" + text

_WORDS = frozenset(("yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "=", "<<"))
_BASE60_OR_TIME = re.compile(
    r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$"  # PyYAML's base-60 int and float
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
)  # PyYAML's timestamps start so
_UNSURE_START = frozenset("0123456789+-\n")


def documents(text: str) -> list[dict[str, Any] | None] | None:
    """The file's documents, each a mapping (None for an empty one), exactly as PyYAML's safe
    loader would build them; None when this path cannot promise that, or when a document is
    not a mapping (never a manifest: the careful path says why)."""
    if not text.isascii():
        return None
    raw = text.encode("ascii")
    classes = b"n" + raw.translate(_CLASSES) + b"n"
    if (
        any(pattern.search(classes) for pattern in _RISKY)
        or _exponent(classes)
        or raw.startswith(b"...")
        or b"\n..." in raw
    ):
        return None
    if not raw.endswith(b"\n") and (b"|" in raw or b">" in raw):
        return None  # a block scalar ending the file: yaml-rs adds the line break it lacks
    expected = _document_count(text)
    try:
        loaded = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # whatever yaml-rs refuses (or trips on: unhashable keys), PyYAML judges
        return None
    if expected == 0:
        docs: list[Any] = [] if loaded is None else [loaded]
        if docs:
            return None
    elif expected == 1:
        docs = [loaded]
    elif isinstance(loaded, list) and len(loaded) == expected:
        docs = loaded
    else:
        return None
    try:
        if not _plain_manifests(docs):
            return None
    except RecursionError:
        return None
    return docs


def _plain_manifests(docs: list[Any]) -> TypeGuard[list[dict[str, Any] | None]]:
    """Is every document empty (None) or a mapping PyYAML would have built just so?"""
    return all(doc is None or (type(doc) is dict and _plain(doc)) for doc in docs)


def _document_count(text: str) -> int:
    """Documents in the text: one per `---` line, plus one when content comes before the first."""
    markers = [m.start() for m in _MARKER.finditer("\n" + text)] if "---" in text else []
    head = text[: markers[0]] if markers else text
    content = any(line.strip() and not line.lstrip().startswith("#") for line in head.splitlines())
    return len(markers) + (1 if content else 0)


def _unsure(s: str) -> bool:
    """Would PyYAML read this string (known to start with a digit, a sign or a line break)
    differently: resolved, were it a plain scalar, to a base-60 number or a timestamp, which
    yaml-rs keeps as a string (so it cannot tell whether the string was quoted), or, starting
    with a line break, an empty block scalar (yaml-rs keeps its line break)?"""
    return s[0] == "\n" or _BASE60_OR_TIME.match(s) is not None


def _plain(mapping: dict[Any, Any]) -> bool:
    """No key that is not a string, and no key or value PyYAML could have read differently:
    `yes`/`on`/... (`_WORDS`) or what `_unsure` says. Called for every mapping of a render,
    so the common case (a string starting with a letter) costs a slice and a set lookup."""
    for key in mapping:
        if key.__class__ is not str or key in _WORDS or (key[:1] in _UNSURE_START and _unsure(key)):
            return False
    return _plain_values(mapping.values())


def _plain_values(items: Iterable[Any]) -> bool:
    for item in items:
        kind = item.__class__
        if kind is str:
            if item in _WORDS or (item[:1] in _UNSURE_START and _unsure(item)):
                return False
        elif kind is dict:
            if not _plain(item):
                return False
        elif kind is list and not _plain_values(item):
            return False
    return True

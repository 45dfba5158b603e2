"""A finding: a problem at a file, line, column and field, as rendering and the checks report it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A finding's message is cut past this many characters: findings are stored (the revision,
# the application's render status, history) and one that names every key of a 20,000-key
# Secret or a whole selector would grow a document with its input.
MESSAGE_MAX = 2000


@dataclass(frozen=True)
class Finding:
    file: str
    line: int  # 1-based; 0 when unknown
    column: int
    field: str
    message: str

    def __post_init__(self) -> None:
        if len(self.message) > MESSAGE_MAX:
            cut = self.message[:MESSAGE_MAX]
            rest = len(self.message) - MESSAGE_MAX
            object.__setattr__(self, "message", f"{cut}... ({rest:,} more characters)")

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }

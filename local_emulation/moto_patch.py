"""Operations added to (or put in place of) a moto responder class's, and put back as they were: how the emulated
Bedrock APIs that moto lacks are served over botocore's real request and response shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ResponderPatch:
    def __init__(self, responder: type, operations: dict[str, Callable[..., Any]]) -> None:
        self.responder = responder
        self.operations = operations
        self.originals: dict[str, Any] = {}  # moto's own method of that name, or None where moto has none

    def install(self) -> None:
        for name, operation in self.operations.items():
            self.originals[name] = getattr(self.responder, name, None)
            setattr(self.responder, name, operation)

    def uninstall(self) -> None:
        for name, original in self.originals.items():
            if original is None:
                delattr(self.responder, name)
            else:
                setattr(self.responder, name, original)
        self.originals.clear()

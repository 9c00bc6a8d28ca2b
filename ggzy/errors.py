"""The hub's one error type, carrying a bilingual message, mapped to JSON by the API and the CLI."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """An error a user can act on: a stable code, a message in Chinese and English, and details."""

    status_code: int = 400

    def __init__(
        self,
        code: str,
        zh: str,
        en: str,
        *,
        status_code: int | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(f"{code}: {en}")
        self.code = code
        self.zh = zh
        self.en = en
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the API returns and `--json` CLI commands print."""
        body: dict[str, Any] = {"error": self.code, "message": {"zh": self.zh, "en": self.en}}
        if self.detail is not None:
            body["detail"] = self.detail
        return body

    def __str__(self) -> str:
        return f"[{self.code}] {self.zh} / {self.en}"

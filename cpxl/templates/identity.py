"""A template's identity, and the register of issued templates.

A return is matched to its template only through the identity it carries (hidden sheet, custom
properties, defined name), covered by a checksum so that an edited identity is detected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from cpxl.templates.layout import IDENTITY_FIELDS, Layout

# ---------------------------------------------------------------------------------------------
# Identity


@dataclass(frozen=True, slots=True)
class Identity:
    """What makes a workbook a genuine cpxl template, covered by a checksum."""

    template_id: str
    ministry: str
    period: str
    catalogue_version: str
    template_version: str
    fingerprint: str
    issued_at: str
    checksum: str = ""

    def fields(self) -> dict[str, str]:
        """The identity fields without the checksum."""
        d = asdict(self)
        d.pop("checksum")
        return {k: str(v) for k, v in d.items()}

    def expected_checksum(self) -> str:
        """The checksum these fields should carry; an edited field breaks it."""
        blob = "\n".join(f"{k}={v}" for k, v in sorted(self.fields().items()))
        return hashlib.sha256(("cpxl-identity-v1\n" + blob).encode("utf-8")).hexdigest()[:24]

    @property
    def intact(self) -> bool:
        """True when the checksum matches the fields."""
        return self.checksum == self.expected_checksum()

    @classmethod
    def of(cls, layout: Layout, issued_at: str) -> Identity:
        """The identity of a template issued from a layout."""
        ident = cls(
            layout.template_id,
            layout.ministry,
            layout.period,
            layout.catalogue_version,
            str(layout.template_version),
            layout.fingerprint,
            issued_at,
        )
        return cls(**{**ident.fields(), "checksum": ident.expected_checksum()})

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Identity | None:
        """Rebuild an identity from key/value pairs; None when any field is absent."""
        try:
            return cls(**{k: str(values[k]) for k in (*IDENTITY_FIELDS, "checksum")})
        except KeyError:
            return None


# ---------------------------------------------------------------------------------------------
# The register of issued templates


@dataclass(frozen=True, slots=True)
class IssuedTemplate:
    """One line of the register: a template that was sent out."""

    template_id: str
    ministry: str
    period: str
    template_version: int
    fingerprint: str
    issued_at: str
    file: str


def register_path(folder: Path) -> Path:
    """Where the register of issued templates lives in a templates folder."""
    return folder / "register.json"


def read_register(folder: Path) -> dict[str, IssuedTemplate]:
    """Issued templates by id; empty when nothing was issued from this workspace."""
    path = register_path(folder)
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text(encoding="utf-8"))
    return {r["template_id"]: IssuedTemplate(**r) for r in rows}


def write_register(folder: Path, entries: Mapping[str, IssuedTemplate]) -> None:
    path = register_path(folder)
    tmp = path.with_suffix(".json.tmp")
    rows = [asdict(e) for e in sorted(entries.values(), key=lambda e: e.template_id)]
    tmp.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)

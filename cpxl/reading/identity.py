"""A return's identity: from its hidden identity sheet and its custom document properties.

A file is matched to an issued template only through this identity, checked against its
checksum, the layout fingerprint and the register, never through its name or folder.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from defusedxml import ElementTree
from python_calamine import CalamineWorkbook

from cpxl.catalogue import Catalogue, parse_period
from cpxl.findings import Code, Finding, Location, Severity
from cpxl.reading.types import once_per_template
from cpxl.templates import (
    IDENTITY_FIELDS,
    IDENTITY_SHEET,
    Identity,
    IssuedTemplate,
    Layout,
    build_layout,
)


def _custom_properties(
    path: Path, kind: str, kept: Mapping[str, bytes | None] | None = None
) -> dict[str, str]:
    """cpxl_* custom document properties (xlsx: docProps/custom.xml, ods: meta.xml).

    ``kept`` holds the parts the guard kept whole while inflating this file, when it did.
    """
    if kind == "xlsx" and kept is not None:
        xml = kept.get("docprops/custom.xml")
        try:
            return _xlsx_properties(xml) if xml is not None else {}
        except ElementTree.ParseError:
            return {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if kind == "xlsx" and "docProps/custom.xml" in names:
                return _xlsx_properties(zf.read("docProps/custom.xml"))
            if kind == "ods" and "meta.xml" in names:
                root = ElementTree.fromstring(zf.read("meta.xml"))
                out = {}
                for el in root.iter():
                    if el.tag.endswith("user-defined"):
                        name = next((v for k, v in el.attrib.items() if k.endswith("name")), "")
                        if name.startswith("cpxl_"):
                            out[name[5:]] = (el.text or "").strip()
                return out
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, OSError):
        return {}
    return {}


def _xlsx_properties(xml: bytes) -> dict[str, str]:
    return dict(_properties(xml))


@once_per_template
def _properties(xml: bytes) -> tuple[tuple[str, str], ...]:
    out = {}
    for prop in ElementTree.fromstring(xml):
        name = prop.get("name", "")
        if name.startswith("cpxl_") and len(prop):
            out[name[5:]] = (prop[0].text or "").strip()
    return tuple(out.items())


def layout_of(catalogue: Catalogue, ministry: str, period: str) -> Layout:
    """The layout of a ministry's template for a period, made once per process."""
    return _layout(catalogue, ministry, period)[0]


@lru_cache(maxsize=1024)
def _layout(catalogue: Catalogue, ministry: str, period: str) -> tuple[Layout, str]:
    """A template's layout and its fingerprint, made once per run for each ministry and period."""
    layout = build_layout(catalogue, ministry, period)
    return layout, layout.fingerprint


def _identity_sheet(wb: CalamineWorkbook) -> dict[str, str]:
    if IDENTITY_SHEET not in wb.sheet_names:
        return {}
    rows = wb.get_sheet_by_name(IDENTITY_SHEET).to_python(skip_empty_area=False, nrows=20)
    out: dict[str, str] = {}
    for row in rows:
        if len(row) >= 2 and isinstance(row[0], str) and row[0]:
            out[row[0].strip()] = cell_text(row[1])
    return out


def cell_text(raw: object) -> str:
    if isinstance(raw, float) and math.isfinite(raw) and raw == int(raw):
        return str(int(raw))
    return "" if raw is None else str(raw).strip()


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    """The outcome of checking a workbook's identity: a layout to read by, or why not."""

    identity: Identity | None
    layout: Layout | None
    finding: Finding | None


def check_identity(
    path: Path,
    kind: str,
    wb: CalamineWorkbook,
    catalogue: Catalogue,
    register: Mapping[str, IssuedTemplate] | None = None,
    kept: Mapping[str, bytes | None] | None = None,
) -> IdentityCheck:
    """Match a workbook to an issued template through its embedded identity alone."""
    where = Location(file=path.name, sheet=IDENTITY_SHEET)
    sheet = _identity_sheet(wb)
    props = _custom_properties(path, kind, kept)
    values = sheet or props
    identity = Identity.from_mapping(values) if values else None
    if identity is None:
        return IdentityCheck(None, None, Finding.make(Code.NO_IDENTITY, Severity.ERROR, where))
    mismatch = props and sheet and any(props.get(k) != sheet.get(k) for k in IDENTITY_FIELDS)
    if not identity.intact or mismatch:
        finding = Finding.make(Code.IDENTITY_TAMPERED, Severity.ERROR, where)
        return IdentityCheck(identity, None, finding)
    if identity.ministry not in catalogue.ministries:
        finding = Finding.make(
            Code.UNKNOWN_MINISTRY, Severity.ERROR, where, ministry=identity.ministry
        )
        return IdentityCheck(identity, None, finding)
    try:
        period = parse_period(identity.period)
    except ValueError:
        finding = Finding.make(Code.UNKNOWN_PERIOD, Severity.ERROR, where, period=identity.period)
        return IdentityCheck(identity, None, finding)
    if int(identity.template_version) not in catalogue.accepted_versions:
        finding = Finding.make(
            Code.RETIRED_TEMPLATE, Severity.ERROR, where, version=identity.template_version
        )
        return IdentityCheck(identity, None, finding)
    layout, fingerprint = _layout(catalogue, identity.ministry, period.id)
    issued = register.get(identity.template_id) if register else None
    genuine = fingerprint == identity.fingerprint and (
        not register or (issued is not None and issued.fingerprint == identity.fingerprint)
    )
    if not genuine:
        finding = Finding.make(Code.UNKNOWN_TEMPLATE, Severity.ERROR, where)
        return IdentityCheck(identity, None, finding)
    return IdentityCheck(identity, layout, None)

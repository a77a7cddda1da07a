"""Trainee roster (学员名单): validate an uploaded table (export: ``server.core.roster_export``).

Organisation departments keep their rosters in Excel. This module takes the table the file
reader produced (a header row and data rows of text, see ``server.roster_files``) and either
returns every trainee as a validated :class:`TraineeRow` or returns EVERY problem found, each
with the row number the user sees in Excel (the header is row 1, the first data row is row 2),
the column, a stable code and a message in English and in Chinese. A roster with any error
imports nothing: the caller shows the list, the user fixes the file and uploads it again.

Column rules (decided here, shown to users in the import help):

* Headers may be Chinese or English, in any order; case, spaces, ``_``/``-``/``.``, a leading
  ``*`` (the "required" mark of many templates) and a trailing remark in brackets
  (``是否领导（是/否）``) are ignored when matching. Aliases are listed in ``HEADER_ALIASES``.
* Required columns: 姓名, 工号, 单位, 职务, 是否领导, 所属课堂. The leader column is required even
  though an empty cell means "no": the staggered batches (分批错时参训) depend on knowing who the
  leaders are, so a file without the column is refused rather than read as "no leaders".
* Optional columns: 手机, 性别.
* Unknown columns (序号, 备注, 身份证号...) are IGNORED with a warning naming them: real
  rosters carry extra columns and refusing them would make users edit every file. Columns with
  an empty header are ignored silently. Two columns meaning the same field are an error.
* Blank rows are skipped; row numbers still count them, so they match the file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from server.core.errors import InvalidInput
from server.core.text import clean_field

MAX_NAME_LEN = 64
MAX_POSITION_LEN = 64
MAX_STAFF_NO_LEN = 32
FIRST_DATA_ROW = 2  # the header is row 1, as Excel numbers it


class RosterField(StrEnum):
    NAME = "name"
    STAFF_NO = "staff_no"
    ORG_UNIT = "org_unit"
    POSITION = "position"
    LEADER = "leader"
    HOME_SITE = "home_site"
    PHONE = "phone"
    GENDER = "gender"


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


FIELD_LABEL_ZH: Mapping[RosterField, str] = {
    RosterField.NAME: "姓名",
    RosterField.STAFF_NO: "工号",
    RosterField.ORG_UNIT: "单位",
    RosterField.POSITION: "职务",
    RosterField.LEADER: "是否领导",
    RosterField.HOME_SITE: "所属课堂",
    RosterField.PHONE: "手机",
    RosterField.GENDER: "性别",
}

REQUIRED_COLUMNS: tuple[RosterField, ...] = (
    RosterField.NAME,
    RosterField.STAFF_NO,
    RosterField.ORG_UNIT,
    RosterField.POSITION,
    RosterField.LEADER,
    RosterField.HOME_SITE,
)

# Fields whose cell may not be empty (the leader cell may: empty means "no").
REQUIRED_VALUES: frozenset[RosterField] = frozenset(REQUIRED_COLUMNS) - {RosterField.LEADER}

HEADER_ALIASES: Mapping[RosterField, tuple[str, ...]] = {
    RosterField.NAME: ("姓名", "学员姓名", "name", "full name", "fullname"),
    RosterField.STAFF_NO: (
        "工号",
        "人员编号",
        "职工号",
        "员工编号",
        "学员编号",
        "staff_no",
        "staff number",
        "staff id",
        "employee no",
        "employee number",
    ),
    RosterField.ORG_UNIT: (
        "单位",
        "部门",
        "所在单位",
        "工作单位",
        "org_unit",
        "org unit",
        "unit",
        "organisation",
        "organization",
        "department",
    ),
    RosterField.POSITION: ("职务", "职位", "现任职务", "position", "title", "post"),
    RosterField.LEADER: ("是否领导", "领导", "是否领导干部", "leader", "is_leader"),
    RosterField.HOME_SITE: (
        "所属课堂",
        "课堂",
        "分课堂",
        "参训课堂",
        "所属分课堂",
        "home_site",
        "home site",
        "site",
        "classroom",
    ),
    RosterField.PHONE: ("手机", "手机号", "手机号码", "联系电话", "phone", "mobile"),
    RosterField.GENDER: ("性别", "gender", "sex"),
}

_TRUE_FLAGS = frozenset({"是", "y", "yes", "true", "1", "√", "✓"})
_FALSE_FLAGS = frozenset({"否", "n", "no", "false", "0", "×", "✗", ""})
_MALE = frozenset({"男", "男性", "m", "male"})
_FEMALE = frozenset({"女", "女性", "f", "female"})

_STAFF_NO_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_CJK_GAP_RE = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
_WS_RE = re.compile(r"\s+")
_HEADER_REMARK_RE = re.compile(r"[(（\[【].*[)）\]】]$")
_HEADER_NOISE_RE = re.compile(r"[\s_\-.*:：]+")

# code -> (English, Chinese); formatted with the error's parameters.
MESSAGES: Mapping[str, tuple[str, str]] = {
    "roster.missing_columns": (
        "Missing required column(s): {columns}. Add them to the header row.",
        "缺少必填列: {columns}",
    ),
    "roster.duplicate_column": (
        "Columns {first} and {second} both mean {field}; keep one of them.",
        "列 {first} 与 {second} 重复, 请只保留一列",
    ),
    "roster.unknown_column": (
        "Column {column} is not a roster column and was ignored.",
        "未识别的列已忽略: {column}",
    ),
    "roster.empty": (
        "The file has no trainees below the header row.",
        "文件中没有学员数据",
    ),
    "roster.empty_field": ("{column} is required.", "{column}不能为空"),
    "roster.too_long": (
        "{column} is longer than {max} characters.",
        "{column}超过{max}个字符",
    ),
    "roster.bad_characters": (
        "{column} contains control or text-direction characters; retype the cell.",
        "{column}包含非法字符（控制字符或文字方向字符）, 请重新输入",
    ),
    "roster.bad_staff_no": (
        "Staff number {value} may use only letters, digits and . _ / -",
        "工号格式不正确: {value} (只能包含字母、数字和 . _ / -)",
    ),
    "roster.duplicate_staff_no": (
        "Staff number {value} is also used in row {first_row}.",
        "工号重复: {value} (与第{first_row}行重复)",
    ),
    "roster.unknown_org_unit": (
        "Unknown org unit: {value}. Use the name or code of an existing org unit"
        " (add a new one under Master data · Org units first).",
        "未知单位: {value}（请填写已有单位的名称或代码；新单位请先在“基础数据 · 单位”中添加）",
    ),
    "roster.ambiguous_org_unit": (
        "Org unit {value} matches more than one org unit; use its code.",
        "单位名称不唯一: {value}, 请填写单位代码",
    ),
    "roster.unknown_site": (
        "Unknown site: {value}. Use the name or code of an existing classroom"
        " (add a new one under Master data · Sites first).",
        "未知课堂: {value}（请填写已有课堂的名称或代码；新课堂请先在“基础数据 · 课堂”中添加）",
    ),
    "roster.ambiguous_site": (
        "Site {value} matches more than one classroom; use its code.",
        "课堂名称不唯一: {value}, 请填写课堂代码",
    ),
    "roster.bad_leader_flag": (
        "Leader must be 是/否 (yes/no); got {value}.",
        "是否领导只能填 是 或 否: {value}",
    ),
    "roster.bad_phone": (
        "Phone {value} is not an 11-digit mobile number.",
        "手机号码格式不正确: {value}",
    ),
    "roster.bad_gender": (
        "Gender must be 男 or 女; got {value}.",
        "性别只能填 男 或 女: {value}",
    ),
}


@dataclass(frozen=True, slots=True)
class RosterIssue:
    """One problem in the file. ``row`` is None for whole-file problems (e.g. no data)."""

    row: int | None
    column: str | None  # the header text as written in the file, or the field's Chinese label
    field: RosterField | None
    code: str
    message: str
    message_zh: str
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "field": None if self.field is None else self.field.value,
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class TraineeRow:
    """One validated trainee; ``row`` is its row number in the uploaded file."""

    row: int
    name: str
    staff_no: str
    org_unit_id: int
    position: str
    is_leader: bool
    home_site_id: int
    phone: str | None = None
    gender: Gender | None = None


@dataclass(frozen=True, slots=True)
class RosterParse:
    """Result of :func:`parse_roster`: rows to import, or errors and no rows."""

    rows: tuple[TraineeRow, ...]
    errors: tuple[RosterIssue, ...]
    warnings: tuple[RosterIssue, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_if_invalid(self) -> None:
        """Raise ``InvalidInput('roster.invalid')`` carrying every error, if there are any."""
        if self.errors:
            raise InvalidInput(
                "roster.invalid",
                f"The roster has {len(self.errors)} error(s); fix them and upload the file again.",
                {"errors": [e.to_dict() for e in self.errors]},
            )


def _issue(
    code: str,
    row: int | None,
    column: str | None,
    fld: RosterField | None,
    value: str | None = None,
    **params: object,
) -> RosterIssue:
    en, zh = MESSAGES[code]
    fmt = {"column": column, "value": value, **params}
    return RosterIssue(row, column, fld, code, en.format(**fmt), zh.format(**fmt), value)


def normalize_header(text: str) -> str:
    """Header cell -> matching key: NFKC, casefold, no spaces/marks, no trailing remark."""
    key = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).strip().casefold()
    key = _HEADER_REMARK_RE.sub("", key)
    return _HEADER_NOISE_RE.sub("", key)


_ALIAS_INDEX: Mapping[str, RosterField] = {
    normalize_header(alias): fld for fld, aliases in HEADER_ALIASES.items() for alias in aliases
}


def _match_key(text: str) -> str:
    """Org unit / site lookup key: NFKC, casefold, whitespace removed (``ＨＳ`` = ``hs``)."""
    return _WS_RE.sub("", unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold())


def _clean(cell: str | None) -> str:
    if cell is None:
        return ""
    return _WS_RE.sub(" ", cell.translate(_INVISIBLE)).strip()


def _has_control(text: str) -> bool:
    """Refused by the one policy for human-entered fields (``clean_field``): control characters
    and bidi embeddings/overrides/isolates such as U+202E, which make a name read reversed."""
    return bool(clean_field(text)[1])


@dataclass(frozen=True, slots=True)
class _Columns:
    index: Mapping[RosterField, int]
    label: Mapping[RosterField, str]


def _map_header(
    header: Sequence[str | None],
) -> tuple[_Columns, list[RosterIssue], list[RosterIssue]]:
    index: dict[RosterField, int] = {}
    label: dict[RosterField, str] = {}
    errors: list[RosterIssue] = []
    warnings: list[RosterIssue] = []
    for col, raw in enumerate(header):
        text = _clean(raw)
        if not text:
            continue
        fld = _ALIAS_INDEX.get(normalize_header(text))
        if fld is None:
            warnings.append(_issue("roster.unknown_column", 1, text, None))
        elif fld in index:
            errors.append(
                _issue(
                    "roster.duplicate_column",
                    1,
                    text,
                    fld,
                    first=label[fld],
                    second=text,
                    field=FIELD_LABEL_ZH[fld],
                )
            )
        else:
            index[fld] = col
            label[fld] = text
    missing = [FIELD_LABEL_ZH[f] for f in REQUIRED_COLUMNS if f not in index]
    if missing:
        errors.append(_issue("roster.missing_columns", 1, None, None, columns=", ".join(missing)))
    for fld in RosterField:
        label.setdefault(fld, FIELD_LABEL_ZH[fld])
    return _Columns(index, label), errors, warnings


class _Lookup:
    """Name-or-code lookup, tolerant of case, width and spaces; reports ambiguity."""

    def __init__(self, accepted: Mapping[str, int]) -> None:
        self._exact = accepted
        self._loose: dict[str, set[int]] = {}
        for key, ident in accepted.items():
            self._loose.setdefault(_match_key(key), set()).add(ident)

    def find(self, text: str) -> int | Literal["ambiguous"] | None:
        if text in self._exact:
            return self._exact[text]
        ids = self._loose.get(_match_key(text), set())
        if len(ids) > 1:
            return "ambiguous"
        return next(iter(ids), None)


def _parse_flag(text: str) -> bool | None:
    key = unicodedata.normalize("NFKC", text).casefold()
    if key in _TRUE_FLAGS:
        return True
    if key in _FALSE_FLAGS:
        return False
    return None


def _parse_gender(text: str) -> Gender | Literal["bad"] | None:
    key = unicodedata.normalize("NFKC", text).casefold()
    if not key:
        return None
    if key in _MALE:
        return Gender.MALE
    if key in _FEMALE:
        return Gender.FEMALE
    return "bad"


def normalize_phone(text: str) -> str | None:
    """``+86 138-0013-8000`` -> ``13800138000``; None if not a mainland mobile number."""
    digits = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", text))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if _MOBILE_RE.fullmatch(digits) else None


def normalize_name(text: str) -> str:
    """Drop the spaces Excel users put inside Chinese names to align them (``王  伟``)."""
    return _CJK_GAP_RE.sub("", _clean(text))


class _RowParser:
    def __init__(
        self, cols: _Columns, org_units: Mapping[str, int], sites: Mapping[str, int]
    ) -> None:
        self.cols = cols
        self.org_units = _Lookup(org_units)
        self.sites = _Lookup(sites)
        self.seen_staff: dict[str, int] = {}
        self.errors: list[RosterIssue] = []

    def _cell(self, cells: Sequence[str | None], fld: RosterField) -> str:
        col = self.cols.index.get(fld)
        if col is None or col >= len(cells):
            return ""
        return _clean(cells[col])

    def _err(
        self, code: str, row: int, fld: RosterField, value: str | None = None, **p: object
    ) -> None:
        self.errors.append(_issue(code, row, self.cols.label[fld], fld, value, **p))

    def _text(
        self, cells: Sequence[str | None], row: int, fld: RosterField, max_len: int
    ) -> str | None:
        value = self._cell(cells, fld)
        if fld is RosterField.NAME:
            value = normalize_name(value)
        if not value:
            if fld in REQUIRED_VALUES:
                self._err("roster.empty_field", row, fld)
            return None
        if len(value) > max_len:
            self._err("roster.too_long", row, fld, value[:max_len] + "…", max=max_len)
            return None
        if _has_control(value):
            self._err("roster.bad_characters", row, fld)
            return None
        return value

    def _staff_no(self, cells: Sequence[str | None], row: int) -> str | None:
        fld = RosterField.STAFF_NO
        value = self._text(cells, row, fld, MAX_STAFF_NO_LEN)
        if value is None:
            return None
        value = unicodedata.normalize("NFKC", value)
        if not _STAFF_NO_RE.fullmatch(value):
            self._err("roster.bad_staff_no", row, fld, value)
            return None
        first = self.seen_staff.setdefault(value.casefold(), row)
        if first != row:
            self._err("roster.duplicate_staff_no", row, fld, value, first_row=first)
            return None
        return value

    def _ref(
        self, cells: Sequence[str | None], row: int, fld: RosterField, lookup: _Lookup, what: str
    ) -> int | None:
        value = self._cell(cells, fld)
        if not value:
            self._err("roster.empty_field", row, fld)
            return None
        found = lookup.find(value)
        if found is None:
            self._err(f"roster.unknown_{what}", row, fld, value)
            return None
        if found == "ambiguous":
            self._err(f"roster.ambiguous_{what}", row, fld, value)
            return None
        return found

    def parse(self, cells: Sequence[str | None], row: int) -> TraineeRow | None:
        before = len(self.errors)
        name = self._text(cells, row, RosterField.NAME, MAX_NAME_LEN)
        staff_no = self._staff_no(cells, row)
        org_unit_id = self._ref(cells, row, RosterField.ORG_UNIT, self.org_units, "org_unit")
        position = self._text(cells, row, RosterField.POSITION, MAX_POSITION_LEN)
        leader_text = self._cell(cells, RosterField.LEADER)
        is_leader = _parse_flag(leader_text)
        if is_leader is None:
            self._err("roster.bad_leader_flag", row, RosterField.LEADER, leader_text)
        home_site_id = self._ref(cells, row, RosterField.HOME_SITE, self.sites, "site")
        phone_text = self._cell(cells, RosterField.PHONE)
        phone = normalize_phone(phone_text) if phone_text else None
        if phone_text and phone is None:
            self._err("roster.bad_phone", row, RosterField.PHONE, phone_text)
        gender_text = self._cell(cells, RosterField.GENDER)
        gender = _parse_gender(gender_text)
        if gender == "bad":
            self._err("roster.bad_gender", row, RosterField.GENDER, gender_text)
        if len(self.errors) > before:
            return None
        assert name is not None and staff_no is not None and position is not None
        assert org_unit_id is not None and home_site_id is not None and is_leader is not None
        assert gender != "bad"
        return TraineeRow(
            row, name, staff_no, org_unit_id, position, is_leader, home_site_id, phone, gender
        )


def _is_blank(cells: Sequence[str | None]) -> bool:
    return all(not _clean(c) for c in cells)


def parse_roster(
    header: Sequence[str | None],
    rows: Sequence[Sequence[str | None]],
    org_units: Mapping[str, int],
    sites: Mapping[str, int],
) -> RosterParse:
    """Validate a roster table; every error is collected, and any error means no rows.

    ``org_units`` and ``sites`` map every accepted name AND code to the id it stands for
    (e.g. ``{"海曙区": 1, "HS": 1}``); matching ignores case, full/half width and spaces.
    """
    cols, header_errors, warnings = _map_header(header)
    if header_errors:
        return RosterParse((), tuple(header_errors), tuple(warnings))
    parser = _RowParser(cols, org_units, sites)
    trainees: list[TraineeRow] = []
    for offset, cells in enumerate(rows):
        if _is_blank(cells):
            continue
        trainee = parser.parse(cells, FIRST_DATA_ROW + offset)
        if trainee is not None:
            trainees.append(trainee)
    errors = parser.errors
    if not errors and not trainees:
        errors = [_issue("roster.empty", None, None, None)]
    if errors:
        return RosterParse((), tuple(errors), tuple(warnings))
    return RosterParse(tuple(trainees), (), tuple(warnings))

"""A synthetic workbook saved as the `.xlsx` a user exports, fast enough for 10 million cells.

openpyxl needs minutes for 10 M cells; this writes the package's XML directly, the way Excel and
Google Sheets' export write it: text in the shared-strings table, numbers as numbers, and the date
and date-time columns of the contract as serial numbers with a date format (`m/d/yyyy`,
`m/d/yyyy h:mm:ss`), so that a reader gives dates and date-times as it would for a real export.
Cells that hold text in a date column (a date typed as text) stay text.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from coaching.contract import TABS, Kind
from coaching.parsing import column_letter
from coaching.records import RawWorkbook

_DATE_STYLE, _DATETIME_STYLE = 1, 2
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "{sheets}</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="m/d/yyyy h:mm:ss"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    "</styleSheet>"
)


def _date_styles(title: str, header: list[object]) -> list[int]:
    """Per column, the date style its numbers get (0: none), from the contract's column kinds."""
    labels = {column.label: column.kind for tab in TABS if tab.default_title == title for column in tab.columns}
    styles = {Kind.DATE: _DATE_STYLE, Kind.DATETIME: _DATETIME_STYLE}
    return [styles.get(labels.get(str(cell)), 0) for cell in header]  # type: ignore[call-overload]


def write_xlsx(raw: RawWorkbook, path: Path) -> Path:
    """Save `raw` (values as the Sheets API gives them: dates as serial numbers) as `.xlsx`."""
    strings: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        for number, tab in enumerate(raw.tabs.values(), start=1):
            width = max(map(len, tab.rows), default=0)
            styles = [
                f' s="{style}"' if style else "" for style in _date_styles(tab.title, tab.rows[0] if tab.rows else [])
            ]
            styles += [""] * (width - len(styles))
            letters = [column_letter(i) for i in range(width)]
            with package.open(f"xl/worksheets/sheet{number}.xml", "w") as out:
                out.write(
                    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                )
                for row_number, row in enumerate(tab.rows, start=1):
                    cells = []
                    for column, value in enumerate(row):
                        if value is None or value == "":
                            continue
                        ref = f"{letters[column]}{row_number}"
                        if isinstance(value, bool):
                            cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
                        elif isinstance(value, (int, float)):
                            cells.append(f'<c r="{ref}"{styles[column]}><v>{value!r}</v></c>')
                        else:
                            index = strings.setdefault(str(value), len(strings))
                            cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
                    out.write(f'<row r="{row_number}">{"".join(cells)}</row>'.encode())
                out.write(b"</sheetData></worksheet>")
        shared = "".join(f'<si><t xml:space="preserve">{escape(text)}</t></si>' for text in strings)
        package.writestr(
            "xl/sharedStrings.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" '
            f'uniqueCount="{len(strings)}">{shared}</sst>',
        )
        titles = list(raw.tabs)
        package.writestr(
            "[Content_Types].xml",
            _CONTENT_TYPES.format(
                sheets="".join(
                    f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
                    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                    for n in range(1, len(titles) + 1)
                )
            ),
        )
        package.writestr("_rels/.rels", _ROOT_RELS)
        package.writestr("xl/styles.xml", _STYLES)
        package.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            + "".join(
                f'<sheet name={quoteattr(title)} sheetId="{n}" r:id="rId{n}"/>'
                for n, title in enumerate(titles, start=1)
            )
            + "</sheets></workbook>",
        )
        package.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(
                f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                f'relationships/worksheet" Target="worksheets/sheet{n}.xml"/>'
                for n in range(1, len(titles) + 1)
            )
            + f'<Relationship Id="rId{len(titles) + 1}" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId{len(titles) + 2}" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        )
    return path

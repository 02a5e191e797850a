#!/usr/bin/env python3
"""Checks the links of the docs: every relative link must resolve, every anchor must name a heading.

Usage: scripts/check_links.py [--root DIR]

Checks every .md file under docs/ and README.md (DIR defaults to the repository root):

- inline links and images, `[text](path#anchor)` and `![alt](path)`, and reference definitions,
  `[label]: path#anchor`: the path, relative to the file, must exist inside the repository, and an
  `#anchor` must be the GitHub-style slug of a heading of the target (or the same) Markdown file;
- reference-style uses, `[text][label]` and `[label][]`, and shortcut references written like
  rustdoc's intra-doc links, ``[`Name`]``, must have a definition in the same file (otherwise they
  render as literal brackets);
- every docs/*.md page is listed in docs/SUMMARY.md, and every page SUMMARY.md lists exists.

External links (http:, https:, mailto: ...) are not fetched. Code blocks and code spans are skipped.
Each problem is printed as `file:line: link -> reason`; the exit status is 1 when there is one.
Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[((?:[^\]\\]|\\.)+)\]:[ \t]*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"""<a\s[^>]*\b(?:name|id)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
HTML_ID = re.compile(r"""<[a-z][^>]*\bid\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


@dataclass
class Link:
    line: int
    target: str


@dataclass
class Page:
    """What one Markdown file holds: its links, references and heading anchors."""

    links: list[Link]
    definitions: dict[str, Link]
    uses: list[tuple[int, str, str]]  # (line, label, how it was written)
    anchors: set[str]


def normalize_label(label: str) -> str:
    return " ".join(label.split()).casefold()


def slug(text: str) -> str:
    """GitHub's anchor for a heading: its rendered text, lower-cased, without punctuation other
    than '-' and '_', spaces turned into '-' (mdBook's ids are the same for these pages)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text
    text = re.sub(r"!?\[([^\]]*)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # _emphasis_, not snake_case
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def mask_code_spans(line: str) -> str:
    """The line with the contents of its code spans blanked (same length, so columns stay)."""
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


def inline_targets(line: str) -> list[str]:
    """The targets of the inline links and images `[text](target "title")` on a line."""
    targets = []
    i = line.find("](")
    while i != -1:
        j = i + 2
        while j < len(line) and line[j] in " \t":
            j += 1
        if j < len(line) and line[j] == "<":
            end = line.find(">", j)
            if end == -1:
                break
            targets.append(line[j + 1 : end])
            i = line.find("](", end)
            continue
        depth, k = 0, j
        while k < len(line):
            c = line[k]
            if c == "\\":
                k += 2
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            elif c in " \t" and depth == 0:
                break  # a title follows
            k += 1
        targets.append(line[j:k])
        i = line.find("](", k)
    return targets


def reference_uses(line: str) -> list[tuple[str, str]]:
    """`[text][label]`, `[label][]` and ``[`Name`]`` uses on a (code-masked) line."""
    uses = []
    for m in re.finditer(r"\[((?:[^\[\]\\]|\\.)*)\]\[((?:[^\[\]\\]|\\.)*)\]", line):
        text, label = m.group(1), m.group(2)
        uses.append((label if label.strip() else text, m.group(0)))
    return uses


def shortcut_code_references(raw: str, masked: str) -> list[tuple[str, str]]:
    """``[`Name`]`` not followed by `(`, `[` or `:`: rustdoc-style links that need a definition."""
    uses = []
    for m in re.finditer(r"(?<![\]\\])\[(`[^`\[\]]+`)\](?![(\[:])", raw):
        # Only where the brackets themselves are not inside a code span.
        if masked[m.start()] == "[" and masked[m.end() - 1] == "]":
            uses.append((m.group(1), m.group(0)))
    return uses


def parse(path: Path) -> Page:
    page = Page(links=[], definitions={}, uses=[], anchors=set())
    seen_slugs: dict[str, int] = {}

    def add_heading(text: str) -> None:
        base = slug(text)
        n = seen_slugs.get(base, 0)
        seen_slugs[base] = n + 1
        page.anchors.add(base if n == 0 else f"{base}-{n}")

    fence: str | None = None
    previous = ""  # the previous line, for setext headings
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, raw in enumerate(lines, start=1):
        m = FENCE.match(raw)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not raw.strip(" `~"):
                fence = None
            previous = ""
            continue
        if m:
            fence = m.group(1)
            previous = ""
            continue
        if raw.startswith("    ") and not previous.strip():
            previous = ""  # an indented code block (after a blank line)
            continue

        for anchor in HTML_ANCHOR.findall(raw) + HTML_ID.findall(raw):
            page.anchors.add(anchor)
        heading = ATX_HEADING.match(raw)
        if heading:
            add_heading(heading.group(2) or "")
        elif SETEXT_UNDERLINE.match(raw) and previous.strip() and not ATX_HEADING.match(previous):
            if raw.strip().startswith("=") or not previous.lstrip().startswith(("-", "*", "+", "|")):
                add_heading(previous.strip())

        masked = mask_code_spans(raw)
        definition = REFERENCE_DEFINITION.match(raw)
        if definition:
            target = definition.group(2).strip("<>")
            page.definitions.setdefault(normalize_label(definition.group(1)), Link(number, target))
            page.links.append(Link(number, target))
        else:
            for target in inline_targets(masked):
                page.links.append(Link(number, target))
            for label, written in reference_uses(masked):
                page.uses.append((number, label, written))
            for label, written in shortcut_code_references(raw, masked):
                page.uses.append((number, label, written))
        previous = raw
    return page


class Checker:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.pages: dict[Path, Page] = {}
        self.problems: list[str] = []

    def page(self, path: Path) -> Page:
        path = path.resolve()
        if path not in self.pages:
            self.pages[path] = parse(path)
        return self.pages[path]

    def report(self, file: Path, line: int, link: str, reason: str) -> None:
        self.problems.append(f"{file.relative_to(self.root)}:{line}: {link} -> {reason}")

    def check_file(self, file: Path) -> None:
        page = self.page(file)
        for link in page.links:
            self.check_link(file, link)
        for line, label, written in page.uses:
            if normalize_label(label) not in page.definitions:
                self.report(file, line, written, f"no reference definition `[{label}]: …` in this file")

    def check_link(self, file: Path, link: Link) -> None:
        target = link.target.strip()
        if not target:
            if file.name != "SUMMARY.md":  # there, `[title]()` is a draft chapter
                self.report(file, link.line, "()", "empty link target")
            return
        if SCHEME.match(target) or target.startswith("//"):
            return  # external: not fetched
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part)
        if path_part.startswith("/"):
            self.report(file, link.line, target, "absolute path: use a path relative to the file")
            return
        resolved = (file.parent / path_part).resolve() if path_part else file.resolve()
        if not resolved.is_relative_to(self.root):
            self.report(file, link.line, target, "points outside the repository")
            return
        if not resolved.exists():
            reason = f"no such file: {resolved.relative_to(self.root)}"
            if file.name == "SUMMARY.md":
                reason = f"chapter listed in SUMMARY.md does not exist ({reason})"
            self.report(file, link.line, target, reason)
            return
        if not anchor:
            return
        if resolved.is_dir() or resolved.suffix.lower() != ".md":
            if resolved.suffix.lower() != ".md" and re.fullmatch(r"L\d+(-L\d+)?", anchor):
                return  # a line anchor into a source file
            self.report(file, link.line, target, "an anchor into a file that is not Markdown")
            return
        anchors = self.page(resolved).anchors
        if unquote(anchor) not in anchors:
            where = "this file" if resolved == file.resolve() else str(resolved.relative_to(self.root))
            close = sorted(a for a in anchors if anchor.split("-")[0] in a)[:3]
            hint = f" (headings there include: {', '.join('#' + a for a in close)})" if close else ""
            self.report(file, link.line, target, f"no heading with anchor #{anchor} in {where}{hint}")

    def check_summary(self, docs: Path) -> None:
        summary = docs / "SUMMARY.md"
        if not summary.exists():
            self.report(docs, 0, "SUMMARY.md", "missing")
            return
        listed: set[Path] = set()
        for link in self.page(summary).links:
            target = unquote(link.target.strip().partition("#")[0])
            if not target:
                continue  # a draft chapter
            if SCHEME.match(target):
                continue
            listed.add((docs / target).resolve())  # (a missing chapter is reported by the link check)
        for page in sorted(docs.glob("*.md")):
            if page.name == "SUMMARY.md":
                continue
            if page.resolve() not in listed:
                self.report(page, 1, page.name, "page is not listed in docs/SUMMARY.md")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    checker = Checker(args.root)
    docs = checker.root / "docs"
    files = sorted(docs.rglob("*.md"))
    readme = checker.root / "README.md"
    if readme.exists():
        files.append(readme)
    for file in files:
        checker.check_file(file)
    checker.check_summary(docs)
    def position(problem: str) -> tuple[str, int]:
        file, line, _ = problem.split(":", 2)
        return file, int(line)

    for problem in sorted(checker.problems, key=position):
        print(problem)
    checked = sum(len(checker.page(f).links) for f in files)
    if checker.problems:
        print(f"check_links: {len(checker.problems)} broken, in {len(files)} files ({checked} links)")
        return 1
    print(f"check_links: {checked} links in {len(files)} files, all resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())

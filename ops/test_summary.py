"""Add up the JUnit reports of the test suites (one per Python environment) into one closing line."""

import sys
import xml.etree.ElementTree as ElementTree


def totals(paths: list[str]) -> dict[str, int]:
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for path in paths:
        root = ElementTree.parse(path).getroot()
        for suite in root.iter("testsuite"):
            for key in counts:
                counts[key] += int(suite.get(key, 0))
    return counts


if __name__ == "__main__":
    counts = totals(sys.argv[1:])
    failed = counts["failures"] + counts["errors"]
    passed = counts["tests"] - failed - counts["skipped"]
    print(f"total: {passed} passed, {failed} failed, {counts['skipped']} skipped")

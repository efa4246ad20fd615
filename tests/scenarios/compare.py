#!/usr/bin/env python3
"""Checks that every language's runner produced the same outcome for every scenario.

Usage: compare.py OUTCOMES_DIR LANG [LANG ...]
Exits 1 (printing the differences) when a language is missing a scenario, when an outcome
has a step with "ok": false, or when two languages disagree.
"""
import json
import pathlib
import sys


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    langs = sys.argv[2:]
    scenarios = sorted(p.stem for p in pathlib.Path(__file__).parent.glob("*.json"))
    failures = 0
    checked = 0
    for name in scenarios:
        outcomes = {}
        for lang in langs:
            path = root / lang / f"{name}.json"
            if not path.exists():
                print(f"{name}: no outcome from {lang}")
                failures += 1
                continue
            text = path.read_text().strip()
            outcome = json.loads(text)
            bad = [i for i, s in enumerate(outcome["steps"]) if not s.get("ok")]
            if bad:
                print(f"{name}: {lang} failed steps {bad}: {text}")
                failures += 1
            outcomes[lang] = text
        distinct = set(outcomes.values())
        if len(distinct) > 1:
            failures += 1
            print(f"{name}: languages disagree:")
            for lang, text in outcomes.items():
                print(f"  {lang}: {text}")
        checked += 1
    print(f"parity: {checked} scenarios x {len(langs)} languages ({', '.join(langs)})")
    print(f"{checked - min(failures, checked)} passed, {min(failures, checked)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

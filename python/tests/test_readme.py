"""The README's Python examples run as written (in a scratch folder, with a dataset and model)."""

from __future__ import annotations

import re


def readme_examples(repo) -> list[str]:
    text = (repo / "README.md").read_text()
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_examples_run(repo, reach_data, reach_model, tmp_path, monkeypatch):
    examples = readme_examples(repo)
    assert len(examples) == 2
    monkeypatch.chdir(tmp_path)
    namespace = {"data": str(reach_data), "checkpoint": str(reach_model)}
    for example in examples:
        exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["latents"].shape[0] == 4
    assert (tmp_path / "data.h5").is_file()

"""feeds.yaml keys of the merged feeds: site.icon, site.websub_hub, publish.page_size and
custom outputs, with their file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.config import CONFIG_KEYS, OutputConfig, PublishConfig, load_config
from aggregator.publish import outputs_of
from tests.test_config import ROOT, errors_of, write

CATEGORIES = """\
categories:
  - name: US Military
    aliases: [Defense]
  - name: World
"""


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.publish == PublishConfig(page_size=50)
    assert config.outputs == ()
    assert config.site.icon is None and config.site.websub_hub is None


def test_valid_publishing_keys(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "site:\n"
            "  icon: https://news.example.org/icon.png\n"
            "  websub_hub: ' https://hub.example.net/ '\n"
            "publish:\n"
            "  page_size: 1000\n" + CATEGORIES + "outputs:\n"
            "  - name: korea-watch\n"
            "    title: Korea   Watch\n"
            "    description: Peninsula news\n"
            "    categories: [defense, WORLD, US Military]\n"
            "    include: [North Korea, Pyongyang, north korea]\n"
            "    exclude: K-pop\n"
            "  - name: all-but-sports\n"
            "    title: No sports\n"
            "    exclude: [football]\n",
        )
    )
    assert config.site.icon == "https://news.example.org/icon.png"
    assert config.site.websub_hub == "https://hub.example.net/"
    assert config.publish.page_size == 1000
    korea, no_sports = config.outputs
    assert korea == OutputConfig(
        name="korea-watch",
        title="Korea Watch",
        description="Peninsula news",
        sections=("US Military", "World"),  # aliases and any case, repeats dropped
        include=("North Korea", "Pyongyang"),
        exclude=("K-pop",),
        line=11,
    )
    assert (no_sports.sections, no_sports.include, no_sports.line) == ((), (), 17)
    outputs = outputs_of(config)
    assert outputs["korea-watch"].sections == ("us-military", "world")
    assert outputs["korea-watch"].subtitle == "Peninsula news"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "site:\n  icon: /static/icon.png\n  websub_hub: ftp://hub.example/\n",
            [
                "2: site.icon: must be an absolute http(s) URL, got '/static/icon.png'",
                "3: site.websub_hub: must be an absolute http(s) URL, got 'ftp://hub.example/'",
            ],
        ),
        (
            "site:\n  websub_hub: https://hub .example/\n",
            ["2: site.websub_hub: URL 'https://hub .example/' contains whitespace"],
        ),
        ("publish:\n  page_size: 0\n", ["2: publish.page_size: 0 is out of range (use 1 to 1000)"]),
        (
            "publish:\n  page_size: 1001\n",
            ["2: publish.page_size: 1001 is out of range (use 1 to 1000)"],
        ),
        (
            "publish:\n  page_size: lots\n",
            ["2: publish.page_size: expected a whole number, got 'lots'"],
        ),
        (
            "publish:\n  pagesize: 10\n",
            ["2: unknown key 'pagesize' in publish; did you mean 'page_size'?"],
        ),
        ("outputs: korea\n", ["1: outputs: expected a list, got 'korea'"]),
        (
            CATEGORIES + "outputs:\n"
            "  - name: Korea Watch\n"  # 6
            "    title: x\n"
            "  - name: all\n"  # 8
            "    title: x\n"
            "  - name: us-military\n"  # 10
            "    title: x\n"
            "  - name: watch\n"  # 12
            "    title: x\n"
            "  - name: watch\n"  # 14
            "    title: y\n"
            "  - name: sports\n"  # 16
            "  - name: spaces\n"  # 17
            "    title: x\n"
            "    categories: [Wrld, Sports]\n"  # 19
            "    include: ['']\n"  # 20
            "    exlude: [x]\n",  # 21
            [
                "6: output #1 name: 'Korea Watch' is not a URL slug: use lower-case "
                "letters, digits and '-' (e.g. 'korea-watch')",
                "8: output #2 name: 'all' would publish at /feeds/all.atom, which is "
                "reserved for all items; choose another name",
                "10: output #3 name: 'us-military' would publish at /feeds/us-military.atom, "
                "which is already the URL of category 'US Military'; choose another name",
                "14: output #5 name: 'watch' would publish at /feeds/watch.atom, which is "
                "already the URL of output 'watch' (line 12); choose another name",
                "16: output #6 (sports): missing required key 'title'",
                "20: output #7 (spaces) include phrase #1: must not be empty",
                "21: unknown key 'exlude' in output #7 (spaces); did you mean 'exclude'?",
            ],
        ),
        (
            CATEGORIES
            + "outputs:\n  - name: spaces\n    title: x\n    categories: [Wrld, Sports]\n",
            [
                "8: output #1 (spaces) category #1: unknown category 'Wrld'; did you mean 'World'?",
                "8: output #1 (spaces) category #2: unknown category 'Sports' "
                "(defined: US Military, World)",
            ],
        ),
        (
            "outputs:\n  - name: '!!!'\n    title: x\n",
            ["2: output #1 name: '!!!' is not a URL slug: use lower-case letters, digits and '-'"],
        ),
    ],
)
def test_errors(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert errors_of(write(tmp_path, text)) == expected


def test_config_keys_list_the_new_keys() -> None:
    assert CONFIG_KEYS[""][-5:] == ("publish", "outputs", "stories", "health", "access")
    assert {"icon", "websub_hub"} <= set(CONFIG_KEYS["site"])
    assert CONFIG_KEYS["publish"] == ("page_size",)
    assert CONFIG_KEYS["outputs"] == (
        "name",
        "title",
        "description",
        "categories",
        "include",
        "exclude",
        "private",
    )


def test_shipped_feeds_yaml_has_an_example_output() -> None:
    config = load_config(ROOT / "feeds.yaml")
    [korea] = config.outputs
    assert korea.name == "korea-watch"
    assert set(korea.sections) == {"US Military", "World"}
    assert "North Korea" in korea.include
    assert config.publish.page_size == 50
    text = (ROOT / "feeds.yaml").read_text(encoding="utf-8")
    assert "#   icon: https://" in text and "#   websub_hub: https://" in text

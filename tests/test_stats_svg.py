"""The server-drawn charts: well-formed SVG with one bar or point per value, escaped text, no
script and no style attribute (the pages' Content-Security-Policy allows neither)."""

from __future__ import annotations

from lxml import etree

from api.stats_svg import bar_chart, line_chart, nice_ceiling, text_width

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> etree._Element:
    root = etree.fromstring(str(markup).encode())
    assert root.tag == f"{SVG}svg"
    for element in root.iter():
        assert not str(element.tag).endswith("script")
        assert "style" not in element.attrib
    return root


def test_a_bar_chart_draws_one_bar_per_item_scaled_to_the_largest() -> None:
    root = parse(bar_chart([("大气", 5), ("水", 2), ("噪声", 0)], title="按污染类型"))
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 3
    widths = [float(bar.get("width")) for bar in bars]
    assert widths[0] > widths[1] > widths[2] == 0
    assert abs(widths[1] / widths[0] - 0.4) < 0.01
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["大气", "5", "水", "2", "噪声", "0"]
    assert root.find(f"{SVG}title").text == "按污染类型"
    assert root.get("role") == "img" and root.get("aria-label") == "按污染类型"


def test_chart_text_is_escaped() -> None:
    root = parse(bar_chart([("<script>alert(1)</script> & co", 1)], title='"quoted" <title>'))
    assert root.find(f"{SVG}title").text == '"quoted" <title>'
    assert root.findall(f"{SVG}text")[0].text == "<script>alert(1)</script> & co"


def test_a_line_chart_has_a_polyline_and_a_point_per_value_for_each_series() -> None:
    months = ["2026-01", "2026-02", "2026-03"]
    root = parse(
        line_chart(months, [("受理", [2, 4, 3]), ("办结", [1, 1, 0])], title="按月受理与办结")
    )
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    assert [len(line.get("points").split()) for line in lines] == [3, 3]
    assert len(root.findall(f"{SVG}circle")) == 6
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"2026-01", "2026-02", "2026-03", "受理", "办结"} <= set(texts)
    # The highest point (4) sits on the top grid line (the rounded maximum is 5 -> 4 is below).
    ys = [float(p.split(",")[1]) for p in lines[0].get("points").split()]
    assert ys[1] == min(ys)


def test_a_single_month_and_long_series_still_draw() -> None:
    parse(line_chart(["2026-01"], [("受理", [3])], title="t"))
    many = [f"{2020 + i // 12}-{i % 12 + 1:02d}" for i in range(60)]
    root = parse(line_chart(many, [("受理", list(range(60)))], title="t"))
    labels = [t.text for t in root.iter(f"{SVG}text") if t.text in many]
    assert 5 <= len(labels) <= 13


def test_empty_charts_say_so() -> None:
    for chart in (bar_chart([], title="t", empty_text="无数据"), line_chart([], [], title="t")):
        root = parse(chart)
        assert any("无数据" in (t.text or "") for t in root.iter(f"{SVG}text"))


def test_axis_maxima_are_round_and_cjk_text_is_wider() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 12, 230, 999)] == [1, 1, 5, 10, 20, 250, 1000]
    assert text_width("大气") > text_width("ab")

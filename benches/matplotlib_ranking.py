"""The 20-agent ranking chart drawn with matplotlib, as the reference for `cargo bench --bench charts`.

Reads the chart data as JSON on stdin (names, positions, scores, highlight_index, title, subtitle,
footer, runs), draws the same chart as pulso's ranking_png (1080 px wide horizontal bars, highest on
top, values at the bar ends, dashed team-average line, highlighted bar, footer), times figure
creation + drawing + PNG encoding to memory, and prints the p50 and the PNG size.
"""

import io
import json
import statistics
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BAR = "#426eba"
HIGHLIGHT = "#f08c00"
AVERAGE = "#c82333"
TEXT = "#212529"
MUTED = "#6c757d"


def draw(data):
    names = [f"#{p}  {n}" for p, n in zip(data["positions"], data["names"])]
    scores = data["scores"]
    n = len(scores)
    width_px, height_px, dpi = 1080, 196 + 52 * n + 108, 100
    fig, ax = plt.subplots(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    colors = [HIGHLIGHT if i == data["highlight_index"] else BAR for i in range(n)]
    y = list(range(n))[::-1]  # highest on top
    ax.barh(y, scores, color=colors, height=0.7)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=13, color=TEXT)
    top = max(scores)
    for yi, s in zip(y, scores):
        label = f"{s:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
        ax.text(s + top * 0.01, yi, label, va="center", fontsize=12, color=TEXT,
                bbox=dict(facecolor="white", edgecolor="none", pad=1))
    avg = sum(scores) / n
    ax.axvline(avg, color=AVERAGE, linestyle="--", linewidth=2)
    ax.text(avg, n - 0.3, f"Promedio del equipo: {avg:.1f}".replace(".", ","), color=AVERAGE,
            fontsize=12, fontweight="bold", ha="center", va="bottom")
    ax.set_xlim(0, top * 1.18)
    ax.set_ylim(-0.6, n + 0.4)
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    # Same layout as pulso: names column on the left, header and footer bands.
    fig.subplots_adjust(left=0.36, right=0.97, top=1 - 196 / height_px, bottom=108 / height_px)
    fig.suptitle(data["title"], x=0.04, ha="left", fontsize=21, fontweight="bold", color=TEXT)
    fig.text(0.04, 1 - 95 / height_px, data["subtitle"], fontsize=13, color=MUTED)
    fig.text(0.04, 0.015, data["footer"], fontsize=12, color=MUTED)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def main():
    data = json.load(sys.stdin)
    runs = int(data.get("runs", 30))
    for _ in range(3):
        draw(data)
    times, png = [], b""
    for _ in range(runs):
        start = time.perf_counter()
        png = draw(data)
        times.append((time.perf_counter() - start) * 1000)
    p50 = statistics.median(times)
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    label = f"matplotlib {matplotlib.__version__} (Python {sys.version.split()[0]})"
    print(f"{label:<28} {width}x{height:<5} p50 {p50:>6.2f} ms  PNG {len(png) / 1024:>6.1f} KB  "
          f"(ranking, 20 agentes, Agg)")
    if len(sys.argv) > 1:
        with open(sys.argv[1], "wb") as f:
            f.write(png)


if __name__ == "__main__":
    main()

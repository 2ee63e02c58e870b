"""The figure helpers of rdtheory.plotting: rate order, readable log ticks, non-colliding labels."""
import numpy as np

from rdtheory.plotting import _figure, annotate_without_overlap, in_rate_order, log_rate_axis


def test_in_rate_order_sorts_by_rate_not_by_training_order():
    pts = [{"bpp": 0.5, "lmbda": 1}, {"bpp": 5.6, "lmbda": 30}, {"bpp": 5.3, "lmbda": 100}]
    assert [p["lmbda"] for p in in_rate_order(pts)] == [1, 100, 30]


def test_log_rate_axis_labels_are_plain_and_apart():
    fig = _figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.plot([0.5, 5.6], [1, 2])
    log_rate_axis(ax)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # tick labels are formatted at draw time
    renderer = canvas.get_renderer()
    ticks = [t for t in ax.xaxis.get_major_ticks() if ax.get_xlim()[0] <= t.get_loc() <= ax.get_xlim()[1]]
    labels = [t.label1.get_text() for t in ticks]
    assert labels == ["0.5", "1", "2", "5"]  # 1-2-5 ticks over 0.5..5.6, %g labels
    boxes = sorted((t.label1.get_window_extent(renderer) for t in ticks), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))  # no two labels touch
    assert not any(t.label1.get_text() for t in ax.xaxis.get_minor_ticks())


def test_annotate_without_overlap_separates_clustered_labels():
    # six labels on points closer together than a label is wide: the naive fixed offset overlaps them all
    fig = _figure(figsize=(5, 4))
    ax = fig.add_subplot()
    xy = np.array([[21.7, 2.817], [21.9, 2.818], [22.5, 2.82], [23.5, 2.81], [24.4, 2.79], [25.4, 2.75]])
    ax.plot(*xy.T, "o-")
    ax.set_xlim(20, 32)
    ax.set_ylim(2.3, 2.9)
    texts = ["lda s=0.001", "lda s=0.01", "argmax for beta = 0, 0.003", "lda s=0.3", "lda s=0.5", "lda s=0.7"]
    arts = annotate_without_overlap(ax, xy, texts)
    renderer = fig.canvas.get_renderer()
    boxes = []
    from matplotlib.text import Text

    for a in arts:  # the text's own box (the leader line may cross other boxes, the text may not)
        a.update_positions(renderer)
        boxes.append(Text.get_window_extent(a, renderer))
    for i in range(len(boxes)):
        for j in range(i):
            assert not boxes[i].overlaps(boxes[j]), (texts[i], texts[j])
    axbox = ax.get_window_extent(renderer)
    assert all(axbox.x0 <= b.x0 and b.x1 <= axbox.x1 and axbox.y0 <= b.y0 and b.y1 <= axbox.y1 for b in boxes)

//! The in-house layout of a series-parallel diagram: every shape gets a box size bottom-up
//! (a chain's children stacked, a group's branches side by side inside a titled frame), then
//! positions top-down (each child centred in its parent's column, so chain arrows stay
//! straight). Text is measured in a monospace font, so widths are exact enough to never clip.

use super::{Group, Item, Shape};

/// Monospace font size, px.
pub(super) const FONT_SIZE: f64 = 13.0;
/// Advance of one character at [`FONT_SIZE`] (monospace fonts advance 0.6 em; a little slack).
pub(super) const CHAR_WIDTH: f64 = 8.0;
/// Height of a line of text.
pub(super) const LINE_HEIGHT: f64 = 17.0;
/// Inner padding of a box.
pub(super) const BOX_PAD_X: f64 = 14.0;
/// Inner padding of a box.
pub(super) const BOX_PAD_Y: f64 = 9.0;
/// Smallest box width.
pub(super) const BOX_MIN_WIDTH: f64 = 120.0;
/// Room for the arrow between two pieces of a chain.
pub(super) const CHAIN_GAP: f64 = 34.0;
/// Padding inside a group's frame.
pub(super) const GROUP_PAD: f64 = 14.0;
/// Between two branches of a group.
pub(super) const BRANCH_GAP: f64 = 28.0;
/// Between the header and the branches: the fork bar and its arrows.
pub(super) const FORK_ZONE: f64 = 26.0;
/// Between the branches and the frame's bottom: the join bar.
pub(super) const JOIN_ZONE: f64 = 22.0;

/// The width a line of text takes.
pub(super) fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// A shape with its size.
#[derive(Debug)]
pub(super) struct Laid<'a> {
    pub w: f64,
    pub h: f64,
    pub kind: LaidKind<'a>,
}

/// What was sized.
#[derive(Debug)]
pub(super) enum LaidKind<'a> {
    Item(&'a Item),
    Chain(Vec<Laid<'a>>),
    Group {
        group: &'a Group,
        /// Height of the title block.
        header: f64,
        branches: Vec<Laid<'a>>,
    },
}

/// Sizes `shape` and everything inside it.
pub(super) fn measure(shape: &Shape) -> Laid<'_> {
    match shape {
        Shape::Item(item) => {
            let lines = 1 + item.notes.len();
            let widest = std::iter::once(item.title.as_str())
                .chain(item.notes.iter().map(String::as_str))
                .map(text_width)
                .fold(0.0, f64::max);
            Laid {
                w: (widest + 2.0 * BOX_PAD_X).max(BOX_MIN_WIDTH),
                h: lines as f64 * LINE_HEIGHT + 2.0 * BOX_PAD_Y,
                kind: LaidKind::Item(item),
            }
        }
        Shape::Chain(parts) => {
            let parts: Vec<Laid> = parts.iter().map(measure).collect();
            let w = parts.iter().map(|p| p.w).fold(0.0, f64::max);
            let h = parts.iter().map(|p| p.h).sum::<f64>()
                + CHAIN_GAP * parts.len().saturating_sub(1) as f64;
            Laid {
                w,
                h,
                kind: LaidKind::Chain(parts),
            }
        }
        Shape::Group(group) => {
            let branches: Vec<Laid> = group.branches.iter().map(measure).collect();
            let header = (1 + group.notes.len()) as f64 * LINE_HEIGHT;
            let title_w = std::iter::once(group.title.as_str())
                .chain(group.notes.iter().map(String::as_str))
                .map(text_width)
                .fold(0.0, f64::max);
            let branches_w = branches.iter().map(|b| b.w).sum::<f64>()
                + BRANCH_GAP * branches.len().saturating_sub(1) as f64;
            let tallest = branches.iter().map(|b| b.h).fold(0.0, f64::max);
            Laid {
                w: branches_w.max(title_w) + 2.0 * GROUP_PAD,
                h: GROUP_PAD + header + FORK_ZONE + tallest + JOIN_ZONE + GROUP_PAD / 2.0,
                kind: LaidKind::Group {
                    group,
                    header,
                    branches,
                },
            }
        }
    }
}

/// Where a sized shape's boxes go: calls `sink` with every primitive, parents before children.
pub(super) fn place<'a>(laid: &Laid<'a>, x: f64, y: f64, sink: &mut impl FnMut(Prim<'a>)) {
    match &laid.kind {
        LaidKind::Item(item) => sink(Prim::Item {
            item,
            x,
            y,
            w: laid.w,
            h: laid.h,
        }),
        LaidKind::Chain(parts) => {
            let cx = x + laid.w / 2.0;
            let mut top = y;
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    sink(Prim::Arrow {
                        x1: cx,
                        y1: top - CHAIN_GAP,
                        x2: cx,
                        y2: top,
                    });
                }
                place(part, cx - part.w / 2.0, top, sink);
                top += part.h + CHAIN_GAP;
            }
        }
        LaidKind::Group {
            group,
            header,
            branches,
        } => {
            sink(Prim::Frame {
                group,
                x,
                y,
                w: laid.w,
                h: laid.h,
            });
            let branches_w = branches.iter().map(|b| b.w).sum::<f64>()
                + BRANCH_GAP * branches.len().saturating_sub(1) as f64;
            let top = y + GROUP_PAD + header + FORK_ZONE;
            let fork_y = top - FORK_ZONE + 8.0;
            let tallest = branches.iter().map(|b| b.h).fold(0.0, f64::max);
            let join_y = top + tallest + JOIN_ZONE / 2.0;
            let mut left = x + (laid.w - branches_w) / 2.0;
            let mut centers = Vec::new();
            for branch in branches {
                let cx = left + branch.w / 2.0;
                centers.push(cx);
                sink(Prim::Arrow {
                    x1: cx,
                    y1: fork_y,
                    x2: cx,
                    y2: top,
                });
                place(branch, left, top, sink);
                sink(Prim::Line {
                    x1: cx,
                    y1: top + branch.h,
                    x2: cx,
                    y2: join_y,
                });
                left += branch.w + BRANCH_GAP;
            }
            let (Some(&first), Some(&last)) = (centers.first(), centers.last()) else {
                return;
            };
            // The arrow into the frame goes on to the fork bar, unless the title is in its way.
            let cx = x + laid.w / 2.0;
            let title_w = std::iter::once(group.title.as_str())
                .chain(group.notes.iter().map(String::as_str))
                .map(text_width)
                .fold(0.0, f64::max);
            if x + GROUP_PAD + title_w + CHAR_WIDTH < cx {
                sink(Prim::Line {
                    x1: cx,
                    y1: y,
                    x2: cx,
                    y2: fork_y,
                });
            }
            if cx < first || cx > last {
                sink(Prim::Bar {
                    x1: cx.min(first),
                    x2: cx.max(last),
                    y: fork_y,
                });
            }
            sink(Prim::Bar {
                x1: first,
                x2: last,
                y: fork_y,
            });
            sink(Prim::Bar {
                x1: first,
                x2: last,
                y: join_y,
            });
            // The join continues to the frame's bottom, where the chain's next arrow starts.
            sink(Prim::Line {
                x1: cx,
                y1: join_y,
                x2: cx,
                y2: y + laid.h,
            });
            if cx < first || cx > last {
                sink(Prim::Bar {
                    x1: cx.min(first),
                    x2: cx.max(last),
                    y: join_y,
                });
            }
        }
    }
}

/// A drawing primitive with its position.
#[derive(Debug)]
pub(super) enum Prim<'a> {
    Item {
        item: &'a Item,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
    },
    Frame {
        group: &'a Group,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
    },
    Arrow {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
    },
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
    },
    Bar {
        x1: f64,
        x2: f64,
        y: f64,
    },
}

//! A standalone SVG, positioned by [`super::layout`]: boxes with their annotations, map tasks
//! with a double outline, fail-fast groups in a solid frame and swallowing groups in a dashed
//! one, fork and join bars where branches split and meet.

use std::fmt::Write;

use super::layout::{self, Prim, BOX_PAD_Y, FONT_SIZE, GROUP_PAD, LINE_HEIGHT};
use super::{Diagram, GroupKind, ItemKind, Status};

const MARGIN: f64 = 24.0;
const HEADING: f64 = 30.0;
const INK: &str = "#2d3748";

pub(super) fn render(diagram: &Diagram) -> String {
    let laid = layout::measure(&diagram.root);
    let heading_w = layout::text_width(&diagram.title) * 1.1;
    let content_w = laid.w.max(heading_w);
    let width = content_w + 2.0 * MARGIN;
    let height = laid.h + 2.0 * MARGIN + HEADING;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" \
         font-size=\"{FONT_SIZE}\">"
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&diagram.title));
    out.push_str(concat!(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" ",
        "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">",
        "<path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#4a5568\"/></marker></defs>\n",
    ));
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{width:.0}\" height=\"{height:.0}\" fill=\"#ffffff\"/>"
    );
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"{:.1}\" font-size=\"15\" font-weight=\"bold\" fill=\"{INK}\">{}</text>",
        MARGIN + 4.0,
        escape(&diagram.title)
    );
    let x = MARGIN + (content_w - laid.w) / 2.0;
    layout::place(&laid, x, MARGIN + HEADING, &mut |prim| {
        draw(&prim, &mut out)
    });
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn status_colors(status: Option<Status>) -> Option<(&'static str, &'static str)> {
    status.map(|status| match status {
        Status::Succeeded => ("#f0fff4", "#2f855a"),
        Status::Failed => ("#fff5f5", "#c53030"),
        Status::Running => ("#fffaf0", "#c05621"),
    })
}

/// Lines of text starting at the top-left `(x, y)` of a text block; the first one bold.
fn text_block(out: &mut String, x: f64, y: f64, lines: &[&str], anchor: &str) {
    for (i, line) in lines.iter().enumerate() {
        let baseline = y + i as f64 * LINE_HEIGHT + LINE_HEIGHT * 0.75;
        let (weight, fill) = if i == 0 {
            (" font-weight=\"bold\"", INK)
        } else {
            ("", "#4a5568")
        };
        let size = if i == 0 { "" } else { " font-size=\"12\"" };
        let _ = writeln!(
            out,
            "<text x=\"{x:.1}\" y=\"{baseline:.1}\" text-anchor=\"{anchor}\" fill=\"{fill}\"{weight}{size}>{}</text>",
            escape(line)
        );
    }
}

fn draw(prim: &Prim<'_>, out: &mut String) {
    match *prim {
        Prim::Item { item, x, y, w, h } => {
            let (fill, stroke) = status_colors(item.status).unwrap_or(match item.kind {
                ItemKind::Task => ("#ffffff", "#4a5568"),
                ItemKind::Map => ("#ebf4ff", "#2b6cb0"),
                ItemKind::Terminal => ("#edf2f7", "#718096"),
                ItemKind::Note => ("#fffff0", "#a0aec0"),
            });
            let rx = if item.kind == ItemKind::Terminal {
                h / 2.0
            } else {
                6.0
            };
            let dash = if item.kind == ItemKind::Note {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<g class=\"state\" id=\"{}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"{rx:.1}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"{dash}/>",
                escape(&item.id)
            );
            if item.kind == ItemKind::Map {
                let _ = writeln!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"4\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"1\"/>",
                    x + 3.5,
                    y + 3.5,
                    w - 7.0,
                    h - 7.0
                );
            }
            let lines: Vec<&str> = std::iter::once(item.title.as_str())
                .chain(item.notes.iter().map(String::as_str))
                .collect();
            text_block(out, x + w / 2.0, y + BOX_PAD_Y, &lines, "middle");
            out.push_str("</g>\n");
        }
        Prim::Frame { group, x, y, w, h } => {
            let (fill, stroke, dash) = match group.kind {
                GroupKind::FailFast => ("#fffaf0", "#c05621", ""),
                GroupKind::Swallow => ("#f7fafc", "#2b6cb0", " stroke-dasharray=\"8 5\""),
                GroupKind::Context => ("#f7fafc", "#718096", ""),
            };
            let (fill, stroke) = match status_colors(group.status) {
                Some((_, status_stroke)) => (fill, status_stroke),
                None => (fill, stroke),
            };
            let _ = writeln!(
                out,
                "<g class=\"group\" id=\"{}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"10\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"2\"{dash}/>",
                escape(&group.id)
            );
            let lines: Vec<&str> = std::iter::once(group.title.as_str())
                .chain(group.notes.iter().map(String::as_str))
                .collect();
            text_block(out, x + GROUP_PAD, y + GROUP_PAD - 4.0, &lines, "start");
            out.push_str("</g>\n");
        }
        Prim::Arrow { x1, y1, x2, y2 } => {
            let _ = writeln!(
                out,
                "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#4a5568\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>"
            );
        }
        Prim::Line { x1, y1, x2, y2 } => {
            let _ = writeln!(
                out,
                "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#4a5568\" stroke-width=\"1.5\"/>"
            );
        }
        Prim::Bar { x1, x2, y } => {
            let _ = writeln!(
                out,
                "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#2d3748\" stroke-width=\"3\" stroke-linecap=\"round\"/>",
                x1 - 1.0,
                x2 + 1.0
            );
        }
    }
}

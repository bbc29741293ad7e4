//! Graphviz DOT: boxes as nodes, groups as `cluster_` subgraphs (solid for fail-fast, dashed
//! for swallowing), map tasks with a double outline.

use std::fmt::Write;

use super::{Diagram, GroupKind, ItemKind, Shape, Status};

pub(super) fn render(diagram: &Diagram) -> String {
    let mut out = format!("digraph {} {{\n", quote(&diagram.title));
    out.push_str(concat!(
        "    rankdir=TB;\n",
        "    fontname=\"Helvetica\";\n",
        "    node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", ",
        "color=\"#4a5568\", fontname=\"Helvetica\", fontsize=11];\n",
        "    edge [color=\"#4a5568\", arrowsize=0.7];\n",
    ));
    declare(&diagram.root, 1, &mut out);
    let mut edges = Vec::new();
    diagram.root.edges(&mut edges);
    for (from, to) in edges {
        let _ = writeln!(out, "    {} -> {};", quote(from), quote(to));
    }
    out.push_str("}\n");
    out
}

fn indent(depth: usize) -> String {
    "    ".repeat(depth)
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn label(title: &str, notes: &[String]) -> String {
    let mut text = title.to_string();
    for note in notes {
        text.push('\n');
        text.push_str(note);
    }
    quote(&text)
}

fn status_colors(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Succeeded => ("#f0fff4", "#2f855a"),
        Status::Failed => ("#fff5f5", "#c53030"),
        Status::Running => ("#fffaf0", "#c05621"),
    }
}

fn declare(shape: &Shape, depth: usize, out: &mut String) {
    let pad = indent(depth);
    match shape {
        Shape::Item(item) => {
            let mut attrs = vec![format!("label={}", label(&item.title, &item.notes))];
            match item.kind {
                ItemKind::Task => {}
                ItemKind::Map => {
                    attrs.push("peripheries=2".into());
                    attrs.push("fillcolor=\"#ebf4ff\"".into());
                    attrs.push("color=\"#2b6cb0\"".into());
                }
                ItemKind::Terminal => {
                    attrs.push("shape=oval".into());
                    attrs.push("fillcolor=\"#edf2f7\"".into());
                }
                ItemKind::Note => attrs.push("style=\"dashed,filled\"".into()),
            }
            if let Some(status) = item.status {
                let (fill, stroke) = status_colors(status);
                attrs.push(format!("fillcolor=\"{fill}\""));
                attrs.push(format!("color=\"{stroke}\""));
            }
            let _ = writeln!(out, "{pad}{} [{}];", quote(&item.id), attrs.join(", "));
        }
        Shape::Chain(parts) => parts.iter().for_each(|p| declare(p, depth, out)),
        Shape::Group(group) => {
            let _ = writeln!(
                out,
                "{pad}subgraph {} {{",
                quote(&format!("cluster_{}", group.id))
            );
            let inner = indent(depth + 1);
            let _ = writeln!(out, "{inner}label={};", label(&group.title, &group.notes));
            let (style, color) = match group.kind {
                GroupKind::FailFast => ("rounded,bold", "#c05621"),
                GroupKind::Swallow => ("rounded,dashed,bold", "#2b6cb0"),
                GroupKind::Context => ("rounded", "#718096"),
            };
            let color = match group.status {
                Some(status) => status_colors(status).1,
                None => color,
            };
            let _ = writeln!(out, "{inner}style=\"{style}\";");
            let _ = writeln!(out, "{inner}color=\"{color}\";");
            group
                .branches
                .iter()
                .for_each(|b| declare(b, depth + 1, out));
            let _ = writeln!(out, "{pad}}}");
        }
    }
}

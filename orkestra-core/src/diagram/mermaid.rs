//! Mermaid `flowchart` text: boxes declared inside their group's `subgraph`, arrows after them,
//! then the styles (map tasks, the two kinds of group, statuses).

use std::fmt::Write;

use super::{Diagram, Group, GroupKind, Item, ItemKind, Shape};

pub(super) fn render(diagram: &Diagram) -> String {
    let mut out = String::from("flowchart TD\n");
    declare(&diagram.root, 1, &mut out);
    let mut edges = Vec::new();
    diagram.root.edges(&mut edges);
    for (from, to) in edges {
        let _ = writeln!(out, "    {from} --> {to}");
    }
    styles(diagram, &mut out);
    out
}

fn indent(depth: usize) -> String {
    "    ".repeat(depth)
}

fn declare(shape: &Shape, depth: usize, out: &mut String) {
    match shape {
        Shape::Item(item) => {
            let label = label(&item.title, &item.notes);
            let _ = match item.kind {
                ItemKind::Task => writeln!(out, "{}{}[\"{label}\"]", indent(depth), item.id),
                ItemKind::Map => writeln!(out, "{}{}[[\"{label}\"]]", indent(depth), item.id),
                ItemKind::Terminal => writeln!(out, "{}{}([\"{label}\"])", indent(depth), item.id),
                ItemKind::Note => writeln!(out, "{}{}>\"{label}\"]", indent(depth), item.id),
            };
        }
        Shape::Chain(parts) => parts.iter().for_each(|p| declare(p, depth, out)),
        Shape::Group(group) => {
            let title = label(&group.title, &group.notes);
            let _ = writeln!(out, "{}subgraph {} [\"{title}\"]", indent(depth), group.id);
            let _ = writeln!(out, "{}direction TB", indent(depth + 1));
            group
                .branches
                .iter()
                .for_each(|b| declare(b, depth + 1, out));
            let _ = writeln!(out, "{}end", indent(depth));
        }
    }
}

/// A quoted label: lines joined with `<br/>`, quotes and markup escaped as Mermaid entities.
fn label(title: &str, notes: &[String]) -> String {
    std::iter::once(title)
        .chain(notes.iter().map(String::as_str))
        .map(escape)
        .collect::<Vec<_>>()
        .join("<br/>")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            c => out.push(c),
        }
    }
    out
}

fn groups<'a>(shape: &'a Shape, out: &mut Vec<&'a Group>) {
    match shape {
        Shape::Item(_) => {}
        Shape::Chain(parts) => parts.iter().for_each(|p| groups(p, out)),
        Shape::Group(group) => {
            out.push(group);
            group.branches.iter().for_each(|b| groups(b, out));
        }
    }
}

fn styles(diagram: &Diagram, out: &mut String) {
    out.push_str(concat!(
        "    classDef task fill:#ffffff,stroke:#4a5568,color:#1a202c\n",
        "    classDef map fill:#ebf4ff,stroke:#2b6cb0,stroke-width:2px,color:#1a202c\n",
        "    classDef terminal fill:#edf2f7,stroke:#718096,color:#1a202c\n",
        "    classDef note fill:#fffff0,stroke:#a0aec0,stroke-dasharray:3 3,color:#1a202c\n",
        "    classDef succeeded fill:#f0fff4,stroke:#2f855a,color:#1a202c\n",
        "    classDef failed fill:#fff5f5,stroke:#c53030,stroke-width:2px,color:#1a202c\n",
        "    classDef running fill:#fffaf0,stroke:#c05621,color:#1a202c\n",
    ));
    let mut items: Vec<&Item> = Vec::new();
    diagram.root.items(&mut items);
    let mut by_class: Vec<(&str, Vec<&str>)> = Vec::new();
    for item in items {
        let class = match (item.status, item.kind) {
            (Some(status), ItemKind::Task | ItemKind::Map | ItemKind::Terminal) => status.class(),
            (_, ItemKind::Task) => "task",
            (_, ItemKind::Map) => "map",
            (_, ItemKind::Terminal) => "terminal",
            (_, ItemKind::Note) => "note",
        };
        match by_class.iter_mut().find(|(c, _)| *c == class) {
            Some((_, ids)) => ids.push(&item.id),
            None => by_class.push((class, vec![&item.id])),
        }
    }
    for (class, ids) in by_class {
        let _ = writeln!(out, "    class {} {class}", ids.join(","));
    }
    let mut all = Vec::new();
    groups(&diagram.root, &mut all);
    for group in all {
        let stroke = match (group.status, group.kind) {
            (Some(super::Status::Failed), _) => "fill:#fff5f5,stroke:#c53030,stroke-width:2px",
            (Some(super::Status::Running), _) => "fill:#fffaf0,stroke:#c05621,stroke-width:2px",
            (Some(super::Status::Succeeded), _) => "fill:#f7fafc,stroke:#2f855a,stroke-width:2px",
            (_, GroupKind::FailFast) => "fill:#fffaf0,stroke:#c05621,stroke-width:2px",
            (_, GroupKind::Swallow) => {
                "fill:#f7fafc,stroke:#2b6cb0,stroke-width:2px,stroke-dasharray:6 4"
            }
            (_, GroupKind::Context) => "fill:#f7fafc,stroke:#718096",
        };
        let _ = writeln!(out, "    style {} {stroke}", group.id);
    }
}

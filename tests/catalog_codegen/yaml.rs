//! A YAML document as a plain tree that keeps every scalar's text and quoting, built from
//! saphyr-parser's events.
//!
//! The catalog's examples are typed by the schema beside them, not by YAML's own rules:
//! `example: 0100` under `type: string` is the text `0100`, and a 28-digit plain order number
//! is a string, not a float. So scalars stay raw here and [`super::schema`] resolves them.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// One YAML node. Mapping keys are kept as text, in document order.
#[derive(Debug, Clone)]
pub enum Node {
    Scalar { text: String, quoted: bool },
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
}

impl Node {
    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The scalar text of this node (None for mappings, sequences and YAML nulls).
    pub fn text(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, quoted } => {
                if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                    None
                } else {
                    Some(text)
                }
            }
            _ => None,
        }
    }

    /// The text under `key`, if it is a scalar.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::text)
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::Seq(items) => items,
            _ => &[],
        }
    }

    /// A YAML `true` under the core schema.
    pub fn is_true(&self) -> bool {
        matches!(self.text(), Some("true" | "True" | "TRUE"))
    }
}

/// Parses one single-document YAML text.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| e.to_string())?;
        builder
            .event(event)
            .map_err(|e| format!("{e} at line {}", span.start.line()))?;
    }
    builder.root.ok_or_else(|| "empty document".to_owned())
}

#[derive(Default)]
struct Builder {
    /// Open collections: a mapping with its pending key, or a sequence; with its anchor.
    stack: Vec<(Open, usize)>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
}

enum Open {
    Map(Vec<(String, Node)>, Option<String>),
    Seq(Vec<Node>),
}

impl Builder {
    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node::Scalar {
                    text: text.into_owned(),
                    quoted: !matches!(style, ScalarStyle::Plain),
                };
                self.finish(node, anchor)
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("unknown alias {id}"))?;
                self.finish(node, 0)
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push((Open::Map(Vec::new(), None), anchor));
                Ok(())
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push((Open::Seq(Vec::new()), anchor));
                Ok(())
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (open, anchor) = self.stack.pop().ok_or("unbalanced end")?;
                let node = match open {
                    Open::Map(entries, _) => Node::Map(entries),
                    Open::Seq(items) => Node::Seq(items),
                };
                self.finish(node, anchor)
            }
            _ => Ok(()),
        }
    }

    /// Places a complete node: as a mapping key, a mapping value, a sequence item or the root.
    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), String> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some((Open::Seq(items), _)) => {
                items.push(node);
                Ok(())
            }
            Some((Open::Map(entries, pending), _)) => {
                match pending.take() {
                    None => match node {
                        Node::Scalar { text, .. } => *pending = Some(text),
                        _ => return Err("a mapping key that is not a scalar".into()),
                    },
                    Some(key) => entries.push((key, node)),
                }
                Ok(())
            }
        }
    }
}

//! Chat templates: a model's own Jinja template (GGUF `tokenizer.chat_template`, or
//! `chat_template` in a Hugging Face `tokenizer_config.json`) rendered the way `transformers`'
//! `apply_chat_template` renders it — `trim_blocks` and `lstrip_blocks` on, loop controls,
//! `raise_exception`, and Python's string methods (minijinja-contrib's pycompat) — so an
//! instruct model sees the turns it was trained on.
//!
//! The papers' reference protocols apply no template; the paper runs keep that default and take
//! the template as an option (`chat_template`).

use std::path::Path;

use minijinja::{Environment, ErrorKind, Value};
use serde::Serialize;

use crate::{Error, Result};

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// `"system"`, `"user"` or `"assistant"` (what the template expects).
    pub role: String,
    /// The turn's text.
    pub content: String,
}

impl Message {
    /// A turn with any role.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    /// A user turn: the usual single-message request.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// A system turn.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// An assistant turn.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// A model's chat template with the special tokens it refers to (`bos_token`, `eos_token`).
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// A template from its Jinja source and the spelling of the model's BOS and EOS tokens
    /// (empty when the model has none).
    pub fn new(
        source: impl Into<String>,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Self {
        Self {
            source: source.into(),
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
        }
    }

    /// The chat template of a Hugging Face `tokenizer_config.json` (with its `bos_token` and
    /// `eos_token`), or of a `chat_template.jinja` beside it (where newer repos keep it, and which
    /// `transformers` prefers); `None` when neither has one.
    pub fn from_tokenizer_config(path: &Path) -> Result<Option<Self>> {
        let j: serde_json::Value = if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            serde_json::from_str(&text).map_err(|e| Error::Corrupt {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?
        } else {
            serde_json::Value::Null
        };
        let jinja = path.with_file_name("chat_template.jinja");
        let source = if jinja.is_file() {
            Some(std::fs::read_to_string(&jinja).map_err(|e| Error::io(&jinja, e))?)
        } else {
            template_of(&j)
        };
        Ok(source.map(|t| {
            Self::new(
                t,
                special_token(&j, "bos_token"),
                special_token(&j, "eos_token"),
            )
        }))
    }

    /// The template's Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The conversation as the model's text; with `add_generation_prompt` the text ends with the
    /// assistant's header, where the model's answer begins. A template that fails to parse or
    /// raises (e.g. roles that do not alternate) is [`Error::ChatTemplate`].
    ///
    /// ```
    /// use entroscope::model::{ChatTemplate, Message};
    /// let t = ChatTemplate::new(
    ///     "{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}\n{% endfor %}\
    ///      {% if add_generation_prompt %}<|assistant|>{% endif %}",
    ///     "", "",
    /// );
    /// let text = t.render(&[Message::user(" Hi ")], true)?;
    /// assert_eq!(text, "<|user|>Hi\n<|assistant|>");
    /// # Ok::<(), entroscope::Error>(())
    /// ```
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        if messages.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<Value, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
            },
        );
        let fail = |e: minijinja::Error| Error::ChatTemplate {
            detail: describe(&e),
        };
        env.add_template("chat", &self.source).map_err(fail)?;
        let template = env.get_template("chat").map_err(fail)?;
        template
            .render(minijinja::context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                // transformers passes these as None when the caller gives none.
                tools => Value::from(()),
                documents => Value::from(()),
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(fail)
    }
}

/// A minijinja error with its chain of causes, on one line.
fn describe(e: &minijinja::Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// The `chat_template` of a Hugging Face `tokenizer_config.json`: a string, or a list of named
/// templates of which `default` is taken (as `transformers` does).
fn template_of(j: &serde_json::Value) -> Option<String> {
    match j.get("chat_template")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(list) => list
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(|t| t.as_str())
            .map(String::from),
        _ => None,
    }
}

/// The spelling of a special token in `tokenizer_config.json` (`"<s>"` or `{"content": "<s>"}`).
fn special_token(j: &serde_json::Value, key: &str) -> String {
    match j.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// trim_blocks / lstrip_blocks as `transformers` sets them: a block tag's own line break and
    /// indentation vanish (hand-derived expected text).
    #[test]
    fn blocks_are_trimmed_as_in_transformers() {
        let t = ChatTemplate::new(
            "{% for m in messages %}\n    {{ m.role }}:{{ m.content }}\n{% endfor %}",
            "",
            "",
        );
        let s = t.render(&[Message::user("a"), Message::assistant("b")], false);
        assert_eq!(s.ok().as_deref(), Some("    user:a\n    assistant:b\n"));
    }

    #[test]
    fn raise_exception_and_syntax_errors_are_typed() {
        let t = ChatTemplate::new("{{ raise_exception('roles must alternate') }}", "", "");
        let r = t.render(&[Message::user("x")], true);
        assert!(
            matches!(&r, Err(Error::ChatTemplate { detail }) if detail.contains("roles must alternate")),
            "{r:?}"
        );
        let t = ChatTemplate::new("{% for %}", "", "");
        assert!(matches!(
            t.render(&[Message::user("x")], true),
            Err(Error::ChatTemplate { .. })
        ));
        assert!(matches!(t.render(&[], true), Err(Error::EmptyPrompt)));
    }

    /// Python string methods (pycompat): `.strip()` and `.startswith()` as templates call them;
    /// a boolean prints as Python's Jinja prints it (`True`).
    #[test]
    fn python_string_methods() {
        let t = ChatTemplate::new(
            "{% for m in messages %}{{ m.content.strip() }}{{ m.role.startswith('us') }}{% endfor %}",
            "",
            "",
        );
        let s = t.render(&[Message::user("  hi ")], false);
        assert_eq!(s.ok().as_deref(), Some("hiTrue"));
    }
}

//! The prompt sets of the reproduction: the families' BOS prompt, task prompts over FACTOR news
//! stories, output-format prompts over a topic list, and lettered TruthfulQA MC1 questions.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::data::{FactorItem, TruthfulQaItem};
use crate::{Error, Lm, Result};

/// The families prompt: the BOS token alone (EOS for a model without BOS).
///
/// Errors: [`Error::Config`] for a model with neither.
pub fn bos_prompt(lm: &Lm) -> Result<Vec<u32>> {
    lm.bos_token_id()
        .or_else(|| lm.eos_token_ids().first().copied())
        .map(|t| vec![t])
        .ok_or_else(|| Error::Config {
            key: "bos_token_id".into(),
            detail: "the model has neither a BOS nor an EOS token to start a generation from"
                .into(),
        })
}

/// The three task classes (the paper's TinyStories tasks, on FACTOR news texts here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// Continue the text.
    Continuation,
    /// Count something in the text.
    Counting,
    /// Answer a question about the text's meaning.
    Semantic,
}

impl Task {
    /// All tasks in class-index order.
    pub const ALL: [Task; 3] = [Task::Continuation, Task::Counting, Task::Semantic];

    /// Short name (`continuation`, `counting`, `semantic`).
    pub fn name(self) -> &'static str {
        match self {
            Task::Continuation => "continuation",
            Task::Counting => "counting",
            Task::Semantic => "semantic",
        }
    }

    /// The instruction placed before or after the story.
    pub fn instruction(self, story_first: bool) -> &'static str {
        match (self, story_first) {
            (Task::Continuation, true) => "Continue the story above.",
            (Task::Continuation, false) => "Continue the following story.",
            (Task::Counting, true) => "How many words are in the story above? Count them.",
            (Task::Counting, false) => "How many words are in the following story? Count them.",
            (Task::Semantic, true) => "What is the main message of the story above?",
            (Task::Semantic, false) => "What is the main message of the following story?",
        }
    }
}

/// How a task prompt puts the story and the instruction together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Story, blank line, instruction.
    StoryFirst,
    /// Instruction, blank line, story.
    QuestionFirst,
    /// Story with its words shuffled (seeded), then the instruction.
    Shuffled,
}

impl Variant {
    /// All variants.
    pub const ALL: [Variant; 3] = [
        Variant::StoryFirst,
        Variant::QuestionFirst,
        Variant::Shuffled,
    ];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::StoryFirst => "story-question",
            Variant::QuestionFirst => "question-story",
            Variant::Shuffled => "shuffled",
        }
    }
}

/// One prompt with its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledPrompt {
    /// Class index (task or format).
    pub class: usize,
    /// Class name.
    pub class_name: String,
    /// Variant / topic description.
    pub detail: String,
    /// Source item (story or topic index).
    pub source: usize,
    /// The prompt text.
    pub text: String,
}

/// The first `max_words` words of a text, whitespace-normalised, cut at the last full stop
/// inside the limit when there is one.
pub fn story_excerpt(text: &str, max_words: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().take(max_words).collect();
    let s = words.join(" ");
    match s.rfind(". ") {
        Some(i) if i > s.len() / 2 => s[..=i].to_string(),
        _ => s,
    }
}

/// The words of `text` in a random order drawn from `seed`.
pub fn shuffle_words(text: &str, seed: u64) -> String {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    words.shuffle(&mut StdRng::seed_from_u64(seed));
    words.join(" ")
}

/// Task prompts: every story × every task × every variant, class = task. Stories are the
/// first `n_stories` FACTOR news prefixes, cut to `max_words` words.
///
/// Errors: fewer stories available than asked.
pub fn task_prompts(
    items: &[FactorItem],
    n_stories: usize,
    max_words: usize,
    seed: u64,
) -> Result<Vec<LabeledPrompt>> {
    if n_stories == 0 || items.len() < n_stories {
        return Err(Error::NotEnoughData(format!(
            "{n_stories} stories asked, {} FACTOR items available (ask for 1..={})",
            items.len(),
            items.len()
        )));
    }
    let mut out = Vec::new();
    for (si, item) in items.iter().take(n_stories).enumerate() {
        let story = story_excerpt(&item.prefix, max_words);
        for (ti, task) in Task::ALL.iter().enumerate() {
            for v in Variant::ALL {
                let text = match v {
                    Variant::StoryFirst => format!("{story}\n\n{}\n", task.instruction(true)),
                    Variant::QuestionFirst => format!("{}\n\n{story}\n", task.instruction(false)),
                    Variant::Shuffled => format!(
                        "{}\n\n{}\n",
                        shuffle_words(&story, seed.wrapping_add(si as u64)),
                        task.instruction(true)
                    ),
                };
                out.push(LabeledPrompt {
                    class: ti,
                    class_name: task.name().into(),
                    detail: v.name().into(),
                    source: si,
                    text,
                });
            }
        }
    }
    Ok(out)
}

/// The output formats (class-index order) and their prompt templates (`{}` = topic).
pub const FORMATS: [(&str, &str); 3] = [
    ("chat", "Write a chat log between two friends about {}.\n\n"),
    ("poem", "Write a poem about {}.\n\n"),
    ("scientific", "Write a scientific article about {}.\n\n"),
];

/// Path of the topic list shipped as `entropy_lens/topics.txt` (180 topics) under
/// [`crate::data::data_dir`] (`ENTROSCOPE_DATA` when set).
pub fn topics_path() -> PathBuf {
    crate::data::data_dir()
        .join("entropy_lens")
        .join("topics.txt")
}

/// Read a topic list (one per line, blank lines skipped).
pub fn load_topics(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// `n` items spread evenly over `list` (indices `⌊i·len/n⌋`), so a small subset still covers
/// every group of a list ordered by category.
pub fn spread<T: Clone>(list: &[T], n: usize) -> Vec<T> {
    let len = list.len();
    (0..n.min(len))
        .map(|i| list[i * len / n.min(len)].clone())
        .collect()
}

/// Format prompts: every topic × every format of [`FORMATS`], class = format.
pub fn format_prompts(topics: &[String]) -> Vec<LabeledPrompt> {
    let mut out = Vec::new();
    for (ti, topic) in topics.iter().enumerate() {
        for (fi, (name, template)) in FORMATS.iter().enumerate() {
            out.push(LabeledPrompt {
                class: fi,
                class_name: (*name).into(),
                detail: topic.clone(),
                source: ti,
                text: template.replace("{}", topic),
            });
        }
    }
    out
}

/// Letters of the lettered multiple-choice format.
pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// One lettered TruthfulQA MC1 question: `"Question: …\nA. …\nB. …\nC. …\nD. …\nAnswer:"`
/// (no instruction line: every prompt token costs a forward pass per skip configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McQuestion {
    /// Index of the item in TruthfulQA.
    pub index: usize,
    /// The prompt, ending in `"Answer:"`.
    pub prompt: String,
    /// Index of the correct letter (0 = A).
    pub correct: usize,
}

/// TruthfulQA MC1 in a lettered A/B/C/D format: the best answer and the first three incorrect
/// answers, in an order shuffled per question from `seed`; items with fewer than three incorrect
/// answers are skipped. The first `n` usable items.
pub fn mc_questions(items: &[TruthfulQaItem], n: usize, seed: u64) -> Vec<McQuestion> {
    let mut out = Vec::new();
    for it in items {
        if out.len() == n {
            break;
        }
        if it.incorrect_answers.len() < 3 || it.best_answer.trim().is_empty() {
            continue;
        }
        let mut opts: Vec<(bool, &str)> = vec![(true, it.best_answer.trim())];
        opts.extend(
            it.incorrect_answers
                .iter()
                .take(3)
                .map(|a| (false, a.trim())),
        );
        opts.shuffle(&mut StdRng::seed_from_u64(
            seed.wrapping_add(it.index as u64),
        ));
        let mut prompt = format!("Question: {}\n", it.question.trim());
        for (l, (_, a)) in LETTERS.iter().zip(&opts) {
            prompt.push_str(&format!("{l}. {a}\n"));
        }
        prompt.push_str("Answer:");
        let correct = opts.iter().position(|(c, _)| *c).unwrap_or(0);
        out.push(McQuestion {
            index: it.index,
            prompt,
            correct,
        });
    }
    out
}

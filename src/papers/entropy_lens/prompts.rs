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
    /// Count the words of the text.
    Counting,
    /// Say what the text is about.
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

    /// The reference's two wordings of the task's question.
    pub fn questions(self) -> [&'static str; 2] {
        match self {
            Task::Continuation => [
                "How can the story be continued?",
                "Which could be a continuation of the story?",
            ],
            Task::Counting => [
                "How many words are in the story?",
                "Count the number of words in the story.",
            ],
            Task::Semantic => [
                "What is the main idea of the story?",
                "Who is the subject of the story?",
            ],
        }
    }
}

/// How a task prompt puts the text and the question together (the reference's four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// `"{text}\n\n{question}\n\n"`.
    Plain,
    /// `"{question}\n\n{text}\n\n"`.
    QuestionFirst,
    /// The text's words shuffled (seeded), then the question.
    Scrambled,
    /// The question, then the shuffled text.
    ScrambledQuestionFirst,
}

impl Variant {
    /// All variants.
    pub const ALL: [Variant; 4] = [
        Variant::Plain,
        Variant::QuestionFirst,
        Variant::Scrambled,
        Variant::ScrambledQuestionFirst,
    ];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::QuestionFirst => "question-first",
            Variant::Scrambled => "scrambled",
            Variant::ScrambledQuestionFirst => "scrambled-question-first",
        }
    }

    /// The prompt for a (possibly already scrambled) text and a question.
    fn prompt(self, text: &str, question: &str) -> String {
        match self {
            Variant::Plain | Variant::Scrambled => format!("{text}\n\n{question}\n\n"),
            Variant::QuestionFirst | Variant::ScrambledQuestionFirst => {
                format!("{question}\n\n{text}\n\n")
            }
        }
    }

    fn scrambled(self) -> bool {
        matches!(self, Variant::Scrambled | Variant::ScrambledQuestionFirst)
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

/// Task prompts as the reference builds them: every text × task × question wording × variant
/// (24 per text), class = task. Texts are the first `n_stories` FACTOR news prefixes, cut to
/// `max_words` words. Each text is scrambled once (seeded by `seed` and its index) for both
/// scrambled variants; the reference's scramble carries over from one task to the next (its
/// loop reassigns the story), which we take for an accident and do not copy.
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
        let scrambled = shuffle_words(&story, seed.wrapping_add(si as u64));
        for (ti, task) in Task::ALL.iter().enumerate() {
            for (qi, question) in task.questions().iter().enumerate() {
                for v in Variant::ALL {
                    let text = if v.scrambled() { &scrambled } else { &story };
                    out.push(LabeledPrompt {
                        class: ti,
                        class_name: task.name().into(),
                        detail: format!("{} q{}", v.name(), qi + 1),
                        source: si,
                        text: v.prompt(text, question),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The output formats (class-index order) and their prompt templates (`{}` = topic): the
/// reference's wordings, the topic appended with nothing after it.
pub const FORMATS: [(&str, &str); 3] = [
    ("chat", "Simulate a chat log about {}"),
    ("poem", "Write a poem about {}"),
    ("scientific", "Write a scientific piece about {}"),
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

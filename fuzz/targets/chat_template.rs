//! A chat template: the input is the Jinja source, rendered for a four-turn conversation with and
//! without the generation prompt, the way `--chat` renders a model's own template.
use entroscope::model::{ChatTemplate, Message};

fn main() {
    let messages = [
        Message::system("You are a helpful assistant."),
        Message::user("Write a poem about city traffic."),
        Message::assistant("Horns in the rain."),
        Message::user("Another, please."),
    ];
    afl::fuzz_nohook!(|data: &[u8]| {
        let Ok(source) = std::str::from_utf8(data) else {
            return;
        };
        let t = ChatTemplate::new(source, "<s>", "</s>");
        let _ = t.render(&messages, true);
        let _ = t.render(&messages[1..2], false);
    });
}

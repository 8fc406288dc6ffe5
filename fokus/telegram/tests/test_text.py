from fokus.telegram.text import CAPTION_LIMIT, TEXT_LIMIT, split_text, telegram_length


def test_short_text_is_one_part() -> None:
    assert split_text("Привет") == ["Привет"]


def test_long_text_is_cut_at_paragraphs_within_the_limit() -> None:
    paragraphs = [f"Абзац {i}. " + "слово " * 150 for i in range(12)]
    parts = split_text("\n\n".join(p.strip() for p in paragraphs))
    assert len(parts) > 1
    assert all(telegram_length(p) <= TEXT_LIMIT for p in parts)
    # Every cut fell between paragraphs: each part starts with a paragraph's beginning.
    assert all(p.startswith("Абзац") for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(
        " ".join(p.strip() for p in paragraphs).split()
    )


def test_lines_then_words_then_anywhere() -> None:
    lines = "\n".join("строка " * 20 for _ in range(100))
    assert all(p.startswith("строка") for p in split_text(lines))
    unbroken = "я" * 9000
    parts = split_text(unbroken)
    assert [len(p) for p in parts] == [4096, 4096, 808]


def test_emoji_count_twice_and_captions_are_shorter() -> None:
    assert telegram_length("👍") == 2
    parts = split_text("👍" * 3000)
    assert all(telegram_length(p) <= TEXT_LIMIT for p in parts) and len(parts) == 2
    captioned = split_text("слово " * 1000, first_limit=CAPTION_LIMIT)
    assert telegram_length(captioned[0]) <= CAPTION_LIMIT < telegram_length(captioned[1])


def test_html_tags_do_not_count() -> None:
    assert telegram_length("<b>жирный</b> &amp; текст", "HTML") == len("жирный & текст")

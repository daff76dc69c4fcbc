"""Text analysis shared by every layer: terms, stems, sentences, spelling and exact tokens.

The lowest layer of Chatforge: it imports nothing else of the project, so keyword search
(``storage``), parsing and chunking (``rag``) and the offline answerer (``providers``) read text
the same way. English only, as the rest of the pipeline.

- :mod:`~chatforge.text.analysis`: folding, stop words, Snowball stems, index and content terms;
- :mod:`~chatforge.text.sentences`: sentence ends, heading lines, sentences of a passage;
- :mod:`~chatforge.text.spelling`: edit distance and the near word a typo meant;
- :mod:`~chatforge.text.entities`: codes, model numbers, names, numbers and dates as written.
- :mod:`~chatforge.text.synonyms`: customer words read as a business's words (matching only).
"""

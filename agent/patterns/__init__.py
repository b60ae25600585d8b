"""Mining past incidents for recurring patterns: corpus, clustering, labels, reports, quality, Slack digest.

Entry points: `corpus.build_corpus(docs, filters)`, `analyze.vectors_for(items, stored, embed)`,
`analyze.analyze(items, vectors, embed, k=None)`, `quality.evaluate(items, clustering, labels)`, and the renderers
`report_md.render_markdown`, `report_html.render_html`, `slack_digest.post_digest`.
"""

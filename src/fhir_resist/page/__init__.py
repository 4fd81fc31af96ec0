"""The patient page: one self-contained HTML file per evaluation (alerts, countermeasures, the data
that would change the answer, and the resistance timeline).

``model`` holds what the page says (frozen values), ``build`` and ``timeline`` make it from an
Assessment and the patient's context (pure), ``figure`` draws the timeline as inline SVG
(matplotlib, imported when a page is drawn) and ``html`` renders the page (Jinja2 templates in
``templates/``, autoescaped)."""

/* Search ranking (html_search_scorer): the chapters and back matter above the generated API
   pages (book/api/...), so that a word of the paper finds the chapter before the docstring. */
var Scorer = {
  score: (result) => {
    const [docname, title, anchor, descr, score, filename] = result;
    return docname.startsWith("book/api/") ? score - 20 : score;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};

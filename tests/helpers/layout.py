"""What a page looks like in Chromium, measured: words split over two lines, elements wider
than the page. Shared by the report's and the web app's layout tests."""

# Words (runs of non-space, up to 40 characters) of visible text that the layout split over two
# lines, with the element they sit in: "Mai/l", "donotreply@gst.g/ov.in", a date broken at its hyphen.
BROKEN_WORDS = """() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const element = node.parentElement;
    if (!element || element.closest('svg') || !element.getClientRects().length) continue;
    if (element.closest('details:not([open])') && !element.closest('summary')) continue;  // folded away
    const words = /\\S+/g;
    let word;
    while ((word = words.exec(node.textContent))) {
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      const lines = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.bottom)));
      if (lines.size > 1 && word[0].length <= 40) broken.push(`${element.tagName.toLowerCase()}: ${word[0]}`);
    }
  }
  return broken;
}"""

# Elements wider than the page that do not sit in a box that scrolls them.
OVERFLOWING = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter(e => !e.closest('.scroll'))
  .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))"""

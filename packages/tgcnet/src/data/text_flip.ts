// A horizontal flip moves the patient's left lung to where the right one was: the prompt
// must say so. Swaps the words left and right (any case), leaving everything else.
const SIDE_WORD = /\b(left|right)\b/gi;

function matchCase(word: string, like: string): string {
  if (like === like.toUpperCase()) return word.toUpperCase();
  if (like[0] === like[0].toUpperCase()) return word[0].toUpperCase() + word.slice(1);
  return word;
}

export function swapLeftRight(text: string): string {
  return text.replace(SIDE_WORD, (w) => matchCase(w.toLowerCase() === 'left' ? 'right' : 'left', w));
}

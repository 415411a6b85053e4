// The messages sent to the LLM for one clinical prompt. The default asks for 2-3 sentences of
// radiological description, under 60 words, because CLIP's text encoder reads only 77 tokens.
//
// A --template file replaces it. Its text is the user message; when it holds a line that is
// exactly `---`, the part above is the system message and the part below the user message.
// Placeholders: {prompt} (required) and {modality} ("chest X-ray", "CT", "MRI" or "medical
// imaging"); other braces are left as they are.
import { readFileSync } from 'node:fs';
import { MODALITY_NAME, type Modality } from './glossary.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface PromptTemplate {
  /** The system message, or null to send none. */
  system: string | null;
  /** The user message; holds {prompt}. */
  user: string;
}

export const DEFAULT_TEMPLATE: PromptTemplate = {
  system:
    'You are a consultant radiologist. You write short, factual descriptions of imaging findings that help ' +
    'a segmentation model find them in the image. Answer in plain prose: no lists, no headings, no preamble.',
  user:
    'Clinical prompt: "{prompt}"\n' +
    'Imaging: {modality}.\n' +
    'In 2-3 sentences (under 60 words), describe what this finding looks like on {modality} and where it lies ' +
    "in the image: the anatomy of each named region or organ, its side (the patient's left is on the image's " +
    'right), its extent, and its typical radiological appearance. Give no diagnosis and no advice.',
};

const SEPARATOR = /^---[ \t]*$/m;

/** A template from a file's text (see the header); throws when {prompt} is missing. */
export function parseTemplate(text: string, source = 'template'): PromptTemplate {
  const match = SEPARATOR.exec(text);
  const system = match ? text.slice(0, match.index).trim() : null;
  const user = (match ? text.slice(match.index + match[0].length) : text).trim();
  if (user === '') throw new Error(`${source}: the template has no user message`);
  if (!user.includes('{prompt}')) {
    throw new Error(`${source}: the template's user message must contain {prompt} (the clinical prompt); {modality} is optional`);
  }
  return { system: system === '' ? null : system, user };
}

export function loadTemplate(file: string): PromptTemplate {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the template ${file}: ${(err as Error).message}`);
  }
  return parseTemplate(text, file);
}

/** How {modality} reads. */
export function modalityWords(modality: Modality | null): string {
  return modality ? MODALITY_NAME[modality] : 'medical imaging';
}

function fill(text: string, prompt: string, modality: Modality | null): string {
  // A function replacement, so "$&" in a prompt stays literal.
  return text.replace(/\{prompt\}/g, () => prompt).replace(/\{modality\}/g, () => modalityWords(modality));
}

/** The chat messages for one prompt. */
export function renderTemplate(template: PromptTemplate, prompt: string, modality: Modality | null): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (template.system !== null) messages.push({ role: 'system', content: fill(template.system, prompt, modality) });
  messages.push({ role: 'user', content: fill(template.user, prompt, modality) });
  return messages;
}

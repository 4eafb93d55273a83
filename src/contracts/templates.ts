/**
 * Registered SMS templates (India's DLT): each catalogue key and language maps to the template id
 * the operators know and the exact registered text, with {#var#} where a value goes.
 */
export interface RegisteredTemplate {
  templateId: string;
  text: string;
}

export interface TemplateBook {
  /** The template for a catalogue key in a language, if one is registered. */
  find(key: string, language: string): RegisteredTemplate | undefined;
}

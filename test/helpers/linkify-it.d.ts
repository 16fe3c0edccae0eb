/** The part of linkify-it (no types of its own; installed with mailparser, which links text mail with it) tests use. */
declare module 'linkify-it' {
  export interface Match {
    readonly schema: string;
    readonly index: number;
    readonly lastIndex: number;
    readonly raw: string;
    readonly text: string;
    readonly url: string;
  }
  export interface LinkifyIt {
    match(text: string): Match[] | null;
    set(options: { fuzzyLink?: boolean; fuzzyEmail?: boolean; fuzzyIP?: boolean }): LinkifyIt;
  }
  const LinkifyIt: new () => LinkifyIt;
  export default LinkifyIt;
}

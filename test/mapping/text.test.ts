// Canonical text and the plain text of an HTML body (shared/mapping/text.ts): what decides whether a subject or a
// body changed, so a cosmetic difference the services introduce must never count as one, and a real one always.
import { describe, expect, it } from 'vitest';
import { canonicalBody, canonicalText, htmlToText } from '../../shared/mapping/text.js';

describe('canonicalText', () => {
  it('trims, makes CRLF and lone CR line ends LF, and turns empty or blank text into null', () => {
    expect(canonicalText('  a\r\nb\rc\n  ')).toBe('a\nb\nc');
    expect(canonicalText('a\r\r\nb')).toBe('a\n\nb');
    for (const empty of ['', '  \r\n\t', null, undefined]) expect(canonicalText(empty)).toBeNull();
  });
});

describe('htmlToText', () => {
  it('drops scripts, styles and the head with their content, in any case, and every other tag', () => {
    expect(htmlToText('<HEAD><title>t</title></HEAD><Script>x()</Script><style>p{}</style><b>Agenda</b> <i>now</i>')).toBe('Agenda now');
    expect(htmlToText('<script>a</script>keep<script>b</script>')).toBe('keep');
    expect(htmlToText('<style>\np { color: red }\n</style><script type="x">if (a) { b(); }</script>kept')).toBe('kept');
    expect(htmlToText('<span class="x">a</span>>b')).toBe('a>b');
  });

  it('makes a line of each <br> (any form) and each end of a block', () => {
    expect(htmlToText('a<br>b<BR/>c<br />d')).toBe('a\nb\nc\nd');
    expect(htmlToText('<p>one</p><DIV>two</DIV><ul><li>three</li></ul><table><tr><td>four</td></tr></table><h1>five</h1><h6>six</h6>')).toBe('one\ntwo\nthree\nfour\nfive\nsix\n');
  });

  it('decodes named, decimal and hexadecimal entities, and leaves unknown or out-of-range ones as written', () => {
    expect(htmlToText('&amp; &lt; &gt; &quot; &apos; a&nbsp;b &AMP;')).toBe('& < > " \' a b &');
    expect(htmlToText('&#65;&#x42;&#X43;&#128512;')).toBe('ABC😀');
    // The last code point there is (U+10FFFF) is decoded; one past it is not.
    expect(htmlToText('&#x10FFFF;')).toBe('\u{10FFFF}');
    expect(htmlToText('&bogus; &#x110000; &#1114112;')).toBe('&bogus; &#x110000; &#1114112;');
  });

  it('drops blanks at line ends and keeps at most one empty line between paragraphs', () => {
    expect(htmlToText('a \t<br>  b<br><br><br><br>c')).toBe('a\n  b\n\nc');
    expect(htmlToText('a<br><br>b')).toBe('a\n\nb');
  });
});

describe('canonicalBody', () => {
  it('converts an HTML body (any case of contentType), takes a text body as it is, and has no value for an empty one', () => {
    expect(canonicalBody({ contentType: 'HTML', content: '<p>Hi &amp; bye</p>\r\n' })).toBe('Hi & bye');
    expect(canonicalBody({ contentType: 'text', content: '<p>kept</p> ' })).toBe('<p>kept</p>');
    expect(canonicalBody({ content: '<b>x</b>' })).toBe('<b>x</b>');
    for (const empty of [null, undefined, {}, { contentType: 'html', content: '' }, { contentType: 'html', content: null }]) expect(canonicalBody(empty)).toBeNull();
    expect(canonicalBody({ contentType: 'html', content: '<p> </p>' })).toBeNull();
  });
});

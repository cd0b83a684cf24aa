/**
 * Language detection as the official checker does it (Python langdetect, seeded with 0), and
 * the Python-compatible random generator it depends on. Expected values come from CPython 3.11
 * and python3-langdetect 1.0.9.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { detectLanguage, loadLanguageProfiles } from '../../../src/eval';
import { PyRandom } from '../../../src/py-random';

describe('PyRandom (CPython random.Random)', () => {
  it('matches random(), gauss() and choice() draw for draw', () => {
    let r = new PyRandom(0);
    expect([r.random(), r.random(), r.random()]).toEqual([0.8444218515250481, 0.7579544029403025, 0.420571580830845]);
    r = new PyRandom(0);
    const g = [r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1)];
    expect(g).toBeAllclose([0.9417154046806644, -1.3965781047011498, -0.6797144480784211], { rtol: 1e-15 });
    r = new PyRandom(0);
    const xs = Array.from({ length: 1000 }, (_, i) => i);
    expect([0, 1, 2, 3, 4].map(() => r.choice(xs))).toEqual([864, 394, 776, 911, 430]);
    r = new PyRandom(12345);
    expect([r.getrandbits(32), r.getrandbits(32), r.getrandbits(32), r.randint(1, 6)]).toEqual([1789368711, 3146859322, 43676229, 3]);
  });
});

describe('detectLanguage', () => {
  beforeAll(async () => {
    await loadLanguageProfiles();
  });

  const SAMPLES: Array<[string, string]> = [
    ['The committee will meet next week to discuss the new budget proposal.', 'en'],
    ['El comité se reunirá la próxima semana para discutir el nuevo presupuesto.', 'es'],
    ['Le comité se réunira la semaine prochaine pour discuter du nouveau budget.', 'fr'],
    ['Комитет соберётся на следующей неделе, чтобы обсудить новый бюджет.', 'ru'],
    ['समिति अगले सप्ताह नए बजट प्रस्ताव पर चर्चा करने के लिए बैठक करेगी।', 'hi'],
    ['위원회는 다음 주에 새로운 예산안을 논의하기 위해 회의를 할 것입니다.', 'ko'],
    ['委员会将于下周开会讨论新的预算提案。', 'zh-cn'],
    ['Kamati itakutana wiki ijayo kujadili pendekezo jipya la bajeti.', 'sw'],
  ];
  for (const [text, lang] of SAMPLES) it(`${lang}: ${text.slice(0, 30)}`, () => expect(detectLanguage(text)).toBe(lang));

  it('is deterministic and ignores URLs and e-mail addresses', () => {
    const t = 'Visit https://example.com/a/b or write to someone@example.org for the menu of the day.';
    expect(detectLanguage(t)).toBe('en');
    expect(detectLanguage(t)).toBe(detectLanguage(t));
  });

  it('returns null when the text has no usable n-gram (the official exception)', () => {
    expect(detectLanguage('12345 !!! ???')).toBeNull();
    expect(detectLanguage('')).toBeNull();
  });

  it('keeps the all-caps quirk: capitalised words contribute only their first letter', () => {
    // Python langdetect (seed 0) says "de" and "so" for these all-caps English texts.
    expect(detectLanguage('FORESTS WHISPER RIDDLES\nLION PROWLS IN GOLDEN STRIDE\nSILENT ANSWERS HIDE')).toBe('de');
    expect(detectLanguage('DAY 1: WELCOME TO THE JUNGLE, ALSO KNOWN AS THE GROCERY STORE IN LIMA!')).toBe('so');
  });
});

/**
 * The toy world's small grammar: topics, each with a few words, and sentence templates that
 * turn them into short readable English. Small on purpose: a 1M-parameter model learns it in an
 * hour on a CPU, and every word a response uses comes from here (or from a constraint).
 */

export interface Topic {
  /** How an instruction names it: "the sea". */
  name: string;
  /** Plural nouns seen there. */
  things: readonly string[];
  adjectives: readonly string[];
  /** What people do there, as a verb phrase: "watch the boats". */
  activities: readonly string[];
}

const t = (name: string, things: string, adjectives: string, activities: string): Topic => ({
  name,
  things: things.split(', '),
  adjectives: adjectives.split(', '),
  activities: activities.split(', '),
});

export const TOPICS: readonly Topic[] = [
  t('the sea', 'waves, boats, shells, birds', 'calm, blue, wild, cold', 'swim, watch the boats, walk on the sand'),
  t('a small garden', 'flowers, bees, trees, paths', 'green, quiet, bright, warm', 'read, plant seeds, rest'),
  t('the old city', 'streets, towers, markets, bridges', 'busy, old, loud, grand', 'shop, take photos, walk'),
  t('the forest', 'trees, foxes, leaves, trails', 'dark, green, deep, quiet', 'hike, camp, listen to the birds'),
  t('a mountain village', 'houses, goats, farms, paths', 'quiet, cold, high, small', 'ski, climb, rest'),
  t('the night sky', 'stars, clouds, planets, lights', 'dark, clear, vast, bright', 'look up, dream, count the stars'),
  t('a train journey', 'stations, fields, seats, windows', 'long, slow, calm, pleasant', 'read, sleep, look outside'),
  t('a rainy day', 'puddles, umbrellas, clouds, boots', 'grey, wet, cool, soft', 'stay inside, read, drink tea'),
  t('the river', 'fish, boats, stones, reeds', 'slow, clear, wide, cold', 'fish, row, sit by the water'),
  t('a busy kitchen', 'pots, spices, plates, cooks', 'warm, loud, busy, bright', 'cook, bake, eat'),
  t('the library', 'books, shelves, desks, maps', 'quiet, old, large, calm', 'read, study, write'),
  t('a summer festival', 'lanterns, songs, dancers, stalls', 'loud, bright, happy, warm', 'dance, sing, eat'),
  t('the desert', 'dunes, camels, rocks, stars', 'dry, hot, vast, quiet', 'walk, ride, camp'),
  t('a winter morning', 'snow, frost, scarves, fires', 'cold, white, still, clear', 'skate, walk, drink cocoa'),
  t('the farm', 'cows, barns, fields, tractors', 'busy, green, wide, quiet', 'work, feed the animals, rest'),
  t('a coffee shop', 'cups, cakes, tables, friends', 'warm, small, busy, cozy', 'talk, read, drink coffee'),
  t('the park', 'benches, dogs, ponds, trees', 'green, open, calm, sunny', 'run, play, sit in the sun'),
  t('an island', 'palms, boats, reefs, fish', 'small, sunny, green, remote', 'swim, sail, dive'),
  t('the harbor', 'ships, nets, ropes, gulls', 'busy, old, windy, grey', 'fish, sail, watch the ships'),
  t('a small bakery', 'breads, cakes, ovens, pies', 'warm, small, sweet, busy', 'bake, eat, buy bread'),
  t('the museum', 'paintings, statues, halls, maps', 'large, quiet, old, grand', 'learn, look, walk'),
  t('a spring meadow', 'flowers, bees, grasses, butterflies', 'green, soft, bright, fresh', 'walk, rest, pick flowers'),
  t('the zoo', 'lions, bears, monkeys, birds', 'busy, loud, large, sunny', 'watch the animals, walk, learn'),
  t('a snowy forest', 'pines, tracks, owls, hills', 'white, cold, still, quiet', 'ski, walk, listen'),
];

/** Keywords an instruction may ask for: none of them is a topic word. */
export const KEYWORDS: readonly string[] = 'music, friends, light, family, history, adventure, memory, color, wind, home, journey, dream, silence, laughter, time, hope'.split(', ');

/** Closing phrases for the end-phrase constraint (IFEval's kind). */
export const TOY_END_PHRASES: readonly string[] = [
  'Is there anything else I can help with?',
  'Any other questions?',
  'Thank you for reading.',
  'That is all for now.',
  'I hope this helps.',
];

export const TASKS: readonly string[] = ['Write a short note about {t}.', 'Describe {t} in a few sentences.', 'Tell me about {t}.', 'Write a short text about {t}.'];

/**
 * Sentence templates. {S}/{s}: the topic's name (capitalized / not), {a}/{b}: two different
 * adjectives, {x}/{y}/{z}: three different things, {v}: an activity. Some have commas, so
 * "no commas" has something to fix.
 */
export const SENTENCES: readonly string[] = [
  '{S} is {a} and {b}.',
  'In the morning, {s} is {a}.',
  'People go to {s} to {v}.',
  'You can see {x}, {y} and {z} there.',
  'I love {s} because it is {a}.',
  'There are many {x} near {s}.',
  'On a {a} day, {s} feels {b}.',
  '{S} has {x} and {y}.',
  'Many people like to {v} there.',
  'At night, {s} is {a} and {b}.',
  'The {x} make {s} feel {a}.',
  'It is a {a} place to {v}.',
];

export const POSTSCRIPTS: readonly string[] = ['I hope you visit {s} soon.', 'I think about {s} every day.', 'Tell me what you like about {s}.'];

export const KEYWORD_SENTENCE = 'It reminds me of {k}.';

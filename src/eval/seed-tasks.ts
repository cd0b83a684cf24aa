/**
 * The lab's own seed tasks for self-play training prompts: open writing tasks across genres and
 * topics, plus yes/no questions (the only tasks the "answer with one of these options"
 * constraint is paired with). Written for this project; none is taken from IFEval, and a test
 * checks that none shares a 7-word run with an IFEval prompt.
 */

const TASKS_TEXT = `
Write an email to a landlord asking for a leaking kitchen faucet to be repaired before the weekend.
Write a thank-you note to a neighbour who watered your plants while you were away.
Write a short story about a lighthouse keeper who finds a message in a bottle written in her own handwriting.
Write a poem about the first snowfall seen through a classroom window.
Describe how a refrigerator keeps food cold, for a curious ten-year-old.
Write a product description for a solar-powered camping lantern.
Explain the difference between weather and climate to a group of high school students.
Write a blog post about learning to bake sourdough bread during a busy work week.
Write a speech for a retiring school librarian who worked at the same school for thirty years.
Write a review of a fictional sci-fi film in which the moon starts singing.
Give advice to a first-year university student who feels homesick.
Write a recipe for a vegetable curry that can be made in one pot.
Plan a three-day itinerary for a family visiting Lisbon with two young children.
Write a cover letter for a junior data analyst position at a public transport company.
Explain how vaccines train the immune system, in plain language.
Write a dialogue between a barista and a customer who cannot decide what to order.
Write a job advertisement for a part-time bicycle mechanic.
Summarize the causes of the French Revolution for a history study guide.
Write a birthday message for a grandfather who is turning ninety.
Describe a bustling night market in Taipei from the point of view of a food vendor.
Write a persuasive essay arguing that every city should have more public drinking fountains.
Explain what a black hole is and why light cannot escape from it.
Write a short fable about a tortoise who wants to learn to fly.
Write an announcement for a community garden's spring planting day.
Compare electric cars and hybrid cars for someone buying their first car.
Write a letter from a young sailor in 1850 to his sister back home.
Describe the water cycle as if it were a journey taken by a single raindrop.
Write a pitch for a mobile app that helps people swap houseplants with neighbours.
Explain the rules of chess to someone who has never played a board game.
Write a motivational message for a team that just lost an important football match.
Write a short biography of an imaginary inventor who created the first umbrella for dogs.
Create a lesson plan for teaching fractions to third graders using pizza slices.
Write an apology email to customers whose online orders were delayed by a warehouse flood.
Write a haiku sequence about the changing seasons in a mountain village.
Describe the taste of a ripe mango to someone who has never eaten one.
Explain how compound interest works with a simple savings example.
Write a news report about a town that elected a cat as honorary mayor.
Write instructions for building a simple birdhouse from scrap wood.
Write a welcome message for new members of an online knitting club.
Explain why the sky looks blue during the day and red at sunset.
Write a toast for the wedding of two friends who met at a chess tournament.
Describe a typical day of a deep-sea research scientist aboard a ship.
Write an opinion piece on whether homework should be banned in primary schools.
Write a short mystery story set on a night train across Canada.
Explain how a bill becomes a law in a parliamentary democracy.
Write a guide to caring for a goldfish for a child who just got one.
Write a postcard from someone visiting the Atacama Desert for the first time.
Describe the benefits and risks of intermittent fasting.
Write a product review of a pair of noise-cancelling headphones used on long flights.
Write a letter to a future self to be opened in ten years.
Explain the basics of photosynthesis for a middle school science quiz.
Write a story about a robot who works in a bakery and dreams of tasting bread.
Write a press release for a museum opening an exhibition on ancient board games.
Give tips for staying focused while working from home.
Write a poem about an old bicycle left in a garden shed.
Explain what inflation is and how it affects the price of groceries.
Write a conversation between two astronauts repairing a satellite.
Describe the architecture of a medieval castle to a group of tourists.
Write a short guide on how to prepare for a job interview.
Write a eulogy for a beloved family dog.
Explain how recycling plastic bottles works from bin to new product.
Write a children's story about a cloud who is afraid of heights.
Describe the life cycle of a monarch butterfly.
Write a message to a colleague congratulating them on a promotion.
Write an essay about the role of libraries in the digital age.
Explain what machine learning is to a grandmother who loves gardening.
Write a travel guide entry for a small fishing village in Norway.
Write a complaint letter about a noisy construction site near an apartment building.
Write a story told by a houseplant about the family it lives with.
Explain the importance of sleep for teenagers.
Outline the plot of an imaginary novel about twin detectives who never agree.
Write a social media post announcing the opening of a new bookshop.
Describe how to brew a good cup of green tea.
Write a letter to the editor about the lack of bike lanes in a city centre.
Explain the greenhouse effect using a car parked in the sun as an example.
Write a short play scene in which two rivals are stuck in an elevator.
Give a beginner's introduction to running a first five-kilometre race.
Write a description of a futuristic city built on floating platforms.
Explain why bees are important for farming.
Write an invitation to a surprise retirement party for a school bus driver.
Write a story about a musician who loses her hearing and learns to play by vibration.
Describe the history of the bicycle in a few paragraphs.
Write an FAQ for a new public swimming pool.
Explain how to change a flat tire on a car.
Write a poem from the point of view of a lighthouse during a storm.
Write a scholarship application essay about overcoming a fear of public speaking.
Describe the role of a referee in a basketball game.
Write a short report on the benefits of planting trees in cities.
Write a letter convincing a friend to join a volunteer beach clean-up.
Explain the difference between a virus and a bacterium.
Write a story about two children who build a raft to cross a river.
Create a weekly meal plan for a student on a tight budget.
Write a speech for the opening of a new children's hospital wing.
Explain how the internet sends a message from one computer to another.
Write a review of a small family-run Italian restaurant.
Describe the feeling of standing at the top of a mountain after a long climb.
Write an email asking a professor for an extension on a research paper.
Explain the basic idea behind supply and demand.
Write a legend explaining why the river in a valley is always warm.
Give advice on how to start a vegetable garden on a balcony.
Write a dialogue between a grandparent and a grandchild about the first telephone.
Describe the main features of a rainforest ecosystem.
Write a memo to employees about a new recycling policy in the office.
Write a limerick about a forgetful wizard who keeps losing his hat.
Explain why the moon has phases.
Write a short horror story set in an abandoned amusement park.
Write a guide for tourists on how to use public transport in a big city.
Describe what a typical school day might look like in the year 2100.
Write a letter to a pen pal describing your hometown's biggest festival.
Explain how earthquakes happen.
Write an advertisement for a reusable water bottle that tracks how much you drink.
Write a story about a librarian who discovers a book that writes itself.
Describe how to make a paper airplane that flies far.
Write a report on the advantages of four-day work weeks.
Write a poem about a city waking up at dawn.
Explain how to budget for a first apartment.
Write a message from a ship's captain to passengers during a delay at sea.
Describe the process of making cheese on a small farm.
Write a short essay on why people enjoy horror films.
Explain what DNA is and what it does.
Write a story about a kite that escapes and travels around the world.
Write instructions for a board game invented by two friends on a rainy day.
Describe a visit to a busy fish market early in the morning.
Write a persuasive letter asking a school to add a music class.
Explain why we have leap years.
Write a short story about a painter who can only paint what will happen tomorrow.
Give tips for taking good photos with a phone.
Write a speech for a student council election.
Explain how a hot air balloon rises and lands.
Describe an imaginary animal that lives in the Arctic and how it survives.
Write a letter of recommendation for a hardworking volunteer at an animal shelter.
Explain the basics of how a stock market works.
Write a song about friends on a long road trip.
Describe the sounds of a forest at night.
Write a help article explaining how to reset a forgotten email password.
Write a story about a town where it rains only on Tuesdays.
Explain what causes the northern lights.
Write a brief history of chocolate.
Write a note to a teacher explaining why a child missed a school trip.
Describe how a bakery prepares for the morning rush.
Write a debate opening statement in favour of banning single-use plastic bags.
Explain how a compass works.
Write a story about a clockmaker who builds a clock that runs backwards.
Give advice to someone adopting a rescue cat.
Write a short documentary narration about penguins raising their chicks.
Explain what a healthy breakfast looks like and why it matters.
Write an email inviting coworkers to a charity bake sale.
Describe an abandoned railway station reclaimed by nature.
Write an essay comparing reading books on paper and on screens.
Explain how solar panels turn sunlight into electricity.
Write a story about a young chef entering her first cooking competition.
Write a guide to packing light for a two-week trip.
Describe a traditional tea ceremony to someone who has never seen one.
Write a letter from a tree to the people who want to cut it down.
Explain how the human heart pumps blood.
Write a review of a fictional video game about running a space station.
Write a short story about a mail carrier who delivers letters to ghosts.
Give steps for organising a neighbourhood book swap.
Explain the difference between renewable and non-renewable energy.
Write an opening chapter for a fantasy novel set in a desert kingdom.
Describe how a volcano forms.
Write a text message thread between friends planning a picnic.
Explain what an ecosystem is with an example from a pond.
Write a story about a lost glove trying to find its way home.
Write a proposal for a school to build a rooftop greenhouse.
Describe the experience of learning to swim as an adult.
Explain why it is important to wash your hands.
Write a poem about a grandmother's kitchen.
Write a guide to writing a good thank-you letter after a job interview.
Describe the main events of a typical Olympic marathon.
Write a customer service reply to someone whose package arrived damaged.
Explain how bread rises.
Write a story about an astronaut who grows the first tomato on Mars.
Write a speech welcoming exchange students to a new school.
Describe the colours and smells of a spice market.
Explain how to care for a cast iron pan.
Write a letter to a favourite author telling them how their book helped you.
Write a short story about a violin found in an attic.
Explain what a carbon footprint is and how to reduce it.
Write a description of a cozy mountain cabin for a holiday rental listing.
Describe the job of an air traffic controller.
Write a message to a friend who is moving to another country.
Explain how rainbows form.
Write a story about a village that forgets one word every day.
Give advice on how to learn a new language as an adult.
Write a poem about the sea at midnight.
Explain the basics of first aid for a minor burn.
Write an article about the history of the teddy bear.
Describe a football match from the point of view of the ball.
Write a letter to a city council asking for a new playground.
Explain how a library catalogue helps you find a book.
Write a story about twins who swap places for a day at work.
Write a guide to hosting a board game night.
Describe how honey is made, from flower to jar.
Explain why some animals hibernate in winter.
Write a short speech thanking volunteers at a food bank.
Write a story about a detective who solves crimes using only smells.
Describe a sunrise over a desert.
Explain how to prepare for a long hike in hot weather.
Write an email to a hotel asking about accessible rooms for a wheelchair user.
Write a poem about a train journey through the countryside.
Explain what a budget deficit is.
Write a story about a snowman who wants to see the summer.
Describe the daily routine of a zookeeper.
Give advice on how to write a good opening sentence for an essay.
Write a product description for a handmade wooden chess set.
Explain how glaciers shape valleys.
Write a short story about a phone that only receives calls from the past.
Write a letter to parents announcing a school science fair.
Describe the perfect reading nook.
Explain the benefits of learning to play a musical instrument.
Write a story about a dragon who runs a small library.
Write a how-to guide for making homemade pasta.
Describe the atmosphere of a jazz club late at night.
Explain how traffic lights are timed at a busy crossroads.
Write a message welcoming a new employee to a small design studio.
Write an essay about what makes a good friend.
Describe the migration of whales along a coastline.
Explain what a password manager is and why it is useful.
Write a story about a girl who can talk to the wind.
Write a short guide to composting kitchen scraps.
Describe the inside of a busy hospital emergency room.
Explain how a submarine dives and surfaces.
`;

const QUESTIONS_TEXT = `
Is it a good idea to learn two foreign languages at the same time?
Should children be allowed to use smartphones before the age of twelve?
Can a tomato plant grow well indoors without direct sunlight?
Is it safe to swim right after eating a large meal?
Would a four-day school week improve student learning?
Is remote work better for productivity than working in an office?
Should museums be free to visit for everyone?
Can drinking coffee in the afternoon affect sleep at night?
Is it worth repairing an old laptop instead of buying a new one?
Should cities ban cars from their historic centres?
Is a hot dog a sandwich?
Can reading fiction make people more empathetic?
Should homework be graded in primary school?
Is it possible to see the Great Wall of China from space with the naked eye?
Would it be wise to invest all of one's savings in a single company?
Should everyone learn basic programming at school?
Is honey a healthier sweetener than sugar?
Can plants hear sounds?
Should public transport be free in large cities?
Is it rude to wear headphones during a family dinner?
`;

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** Open writing tasks (emails, stories, poems, explanations, guides...). */
export const SEED_TASKS: readonly string[] = lines(TASKS_TEXT);

/** Yes/no questions, for the constrained-response constraint. */
export const SEED_QUESTIONS: readonly string[] = lines(QUESTIONS_TEXT);

/** Ordinary English words the generator draws keywords and forbidden words from. */
export const KEYWORD_POOL: readonly string[] = (
  'river garden window bridge lantern market letter journey morning harbor forest pencil ' +
  'kitchen mirror ticket village thunder orchard compass castle ladder blanket meadow ' +
  'engine festival silver breeze anchor candle mountain notebook pocket puzzle rhythm ' +
  'shadow signal station theater tunnel valley voyage wagon whistle yellow balance ' +
  'courage curious gentle honest patient quick simple steady bright quiet careful ' +
  'future memory history science music planet ocean desert island winter summer ' +
  'autumn spring friend family neighbor teacher student doctor farmer artist pilot ' +
  'sailor baker coffee bread apple honey butter pepper lemon cotton paper glass ' +
  'stone wood metal clock map key door road path light color story dream plan'
).split(' ');

/** Words a paragraph may be asked to start with. */
export const FIRST_WORD_POOL: readonly string[] = (
  'first then however finally today imagine consider meanwhile overall another ' +
  'during after before although because every most some many this'
).split(' ');

/** Closing phrases for the end-phrase constraint. */
export const END_PHRASES: readonly string[] = [
  'Is there anything else I can help with?',
  'Any other questions?',
  'Let me know if you would like more details.',
  'Thank you for reading.',
  'That is all for now.',
  'I hope this helps.',
  'See you next time.',
];

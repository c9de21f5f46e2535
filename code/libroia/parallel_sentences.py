"""Frases paralelas: las mismas ocho frases en quince idiomas.

Las escribieron los autores del libro para medir el «impuesto del idioma»
(capítulo 2): cuántos tokens cuesta decir lo mismo en cada lengua. Son frases
cotidianas y cortas, no una muestra representativa de ningún idioma; sirven
para comparar, no para sacar conclusiones finas.

``SENTENCES[código][i]`` es la traducción de ``SENTENCES["en"][i]``;
``LANGUAGES[código]`` es el nombre del idioma en español.
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "SENTENCES"]

LANGUAGES: dict[str, str] = {
    "en": "inglés",
    "es": "español",
    "pt": "portugués",
    "fr": "francés",
    "it": "italiano",
    "ca": "catalán",
    "de": "alemán",
    "ru": "ruso",
    "el": "griego",
    "ar": "árabe",
    "hi": "hindi",
    "zh": "chino",
    "ja": "japonés",
    "ko": "coreano",
    "am": "amárico",
}

SENTENCES: dict[str, list[str]] = {
    "en": [
        "The weather is nice today, so we are going to walk to the market.",
        "My grandmother makes the best bread in the whole town.",
        "Language models read text as a sequence of small pieces called tokens.",
        "Could you tell me where the nearest train station is?",
        "The children played football in the park until it got dark.",
        "Learning a new language takes time, patience and a lot of practice.",
        "The doctor said that I should drink more water and sleep eight hours.",
        "Yesterday I read a book about the history of mathematics.",
    ],
    "es": [
        "Hoy hace buen tiempo, así que vamos a ir caminando al mercado.",
        "Mi abuela hace el mejor pan de todo el pueblo.",
        "Los modelos de lenguaje leen el texto como una secuencia de pequeños "
        "fragmentos llamados tokens.",
        "¿Podrías decirme dónde está la estación de tren más cercana?",
        "Los niños jugaron al fútbol en el parque hasta que oscureció.",
        "Aprender un idioma nuevo requiere tiempo, paciencia y mucha práctica.",
        "El médico dijo que debo beber más agua y dormir ocho horas.",
        "Ayer leí un libro sobre la historia de las matemáticas.",
    ],
    "pt": [
        "Hoje está um dia bonito, então vamos a pé até o mercado.",
        "Minha avó faz o melhor pão de toda a cidade.",
        "Os modelos de linguagem leem o texto como uma sequência de pequenos "
        "pedaços chamados tokens.",
        "Você poderia me dizer onde fica a estação de trem mais próxima?",
        "As crianças jogaram futebol no parque até escurecer.",
        "Aprender uma língua nova exige tempo, paciência e muita prática.",
        "O médico disse que eu deveria beber mais água e dormir oito horas.",
        "Ontem eu li um livro sobre a história da matemática.",
    ],
    "fr": [
        "Il fait beau aujourd'hui, alors nous allons marcher jusqu'au marché.",
        "Ma grand-mère fait le meilleur pain de tout le village.",
        "Les modèles de langage lisent le texte comme une suite de petits morceaux "
        "appelés jetons.",
        "Pourriez-vous me dire où se trouve la gare la plus proche ?",
        "Les enfants ont joué au football dans le parc jusqu'à la tombée de la nuit.",
        "Apprendre une nouvelle langue demande du temps, de la patience et beaucoup "
        "de pratique.",
        "Le médecin a dit que je devrais boire plus d'eau et dormir huit heures.",
        "Hier, j'ai lu un livre sur l'histoire des mathématiques.",
    ],
    "it": [
        "Oggi fa bel tempo, quindi andiamo a piedi al mercato.",
        "Mia nonna fa il pane più buono di tutto il paese.",
        "I modelli linguistici leggono il testo come una sequenza di piccoli pezzi "
        "chiamati token.",
        "Potrebbe dirmi dov'è la stazione ferroviaria più vicina?",
        "I bambini hanno giocato a calcio nel parco finché non è diventato buio.",
        "Imparare una nuova lingua richiede tempo, pazienza e molta pratica.",
        "Il medico ha detto che dovrei bere più acqua e dormire otto ore.",
        "Ieri ho letto un libro sulla storia della matematica.",
    ],
    "ca": [
        "Avui fa bon temps, així que anirem caminant al mercat.",
        "La meva àvia fa el millor pa de tot el poble.",
        "Els models de llenguatge llegeixen el text com una seqüència de petits "
        "fragments anomenats tokens.",
        "Em podria dir on és l'estació de tren més propera?",
        "Els nens van jugar a futbol al parc fins que es va fer fosc.",
        "Aprendre una llengua nova requereix temps, paciència i molta pràctica.",
        "El metge va dir que hauria de beure més aigua i dormir vuit hores.",
        "Ahir vaig llegir un llibre sobre la història de les matemàtiques.",
    ],
    "de": [
        "Heute ist schönes Wetter, also gehen wir zu Fuß zum Markt.",
        "Meine Großmutter backt das beste Brot im ganzen Dorf.",
        "Sprachmodelle lesen Text als eine Folge kleiner Stücke, die Token genannt werden.",
        "Könnten Sie mir sagen, wo der nächste Bahnhof ist?",
        "Die Kinder spielten im Park Fußball, bis es dunkel wurde.",
        "Eine neue Sprache zu lernen braucht Zeit, Geduld und viel Übung.",
        "Der Arzt sagte, ich solle mehr Wasser trinken und acht Stunden schlafen.",
        "Gestern habe ich ein Buch über die Geschichte der Mathematik gelesen.",
    ],
    "ru": [
        "Сегодня хорошая погода, поэтому мы пойдём на рынок пешком.",
        "Моя бабушка печёт лучший хлеб во всей деревне.",
        "Языковые модели читают текст как последовательность маленьких частей, "
        "которые называются токенами.",
        "Не могли бы вы сказать, где находится ближайший вокзал?",
        "Дети играли в футбол в парке, пока не стемнело.",
        "Изучение нового языка требует времени, терпения и большой практики.",
        "Врач сказал, что мне нужно пить больше воды и спать восемь часов.",
        "Вчера я прочитал книгу об истории математики.",
    ],
    "el": [
        "Σήμερα ο καιρός είναι ωραίος, οπότε θα πάμε με τα πόδια στην αγορά.",
        "Η γιαγιά μου φτιάχνει το καλύτερο ψωμί σε όλο το χωριό.",
        "Τα γλωσσικά μοντέλα διαβάζουν το κείμενο ως μια ακολουθία από μικρά "
        "κομμάτια που λέγονται tokens.",
        "Μπορείτε να μου πείτε πού είναι ο πλησιέστερος σιδηροδρομικός σταθμός;",
        "Τα παιδιά έπαιζαν ποδόσφαιρο στο πάρκο μέχρι να νυχτώσει.",
        "Η εκμάθηση μιας νέας γλώσσας απαιτεί χρόνο, υπομονή και πολλή εξάσκηση.",
        "Ο γιατρός είπε ότι πρέπει να πίνω περισσότερο νερό και να κοιμάμαι οκτώ ώρες.",
        "Χθες διάβασα ένα βιβλίο για την ιστορία των μαθηματικών.",
    ],
    "ar": [
        "الطقس جميل اليوم، لذلك سنذهب إلى السوق سيرًا على الأقدام.",
        "جدتي تصنع أفضل خبز في القرية كلها.",
        "تقرأ النماذج اللغوية النص كسلسلة من القطع الصغيرة تسمى الرموز.",
        "هل يمكنك أن تخبرني أين تقع أقرب محطة قطار؟",
        "لعب الأطفال كرة القدم في الحديقة حتى حلّ الظلام.",
        "يتطلب تعلم لغة جديدة وقتًا وصبرًا وكثيرًا من الممارسة.",
        "قال الطبيب إنه يجب علي أن أشرب المزيد من الماء وأن أنام ثماني ساعات.",
        "قرأت أمس كتابًا عن تاريخ الرياضيات.",
    ],
    "hi": [
        "आज मौसम अच्छा है, इसलिए हम पैदल बाज़ार जा रहे हैं।",
        "मेरी दादी पूरे गाँव में सबसे अच्छी रोटी बनाती हैं।",
        "भाषा मॉडल पाठ को छोटे टुकड़ों के एक क्रम के रूप में पढ़ते हैं जिन्हें टोकन कहा जाता है।",
        "क्या आप मुझे बता सकते हैं कि सबसे नज़दीकी रेलवे स्टेशन कहाँ है?",
        "बच्चे अंधेरा होने तक पार्क में फ़ुटबॉल खेलते रहे।",
        "नई भाषा सीखने में समय, धैर्य और बहुत अभ्यास लगता है।",
        "डॉक्टर ने कहा कि मुझे ज़्यादा पानी पीना चाहिए और आठ घंटे सोना चाहिए।",
        "कल मैंने गणित के इतिहास के बारे में एक किताब पढ़ी।",
    ],
    "zh": [
        "今天天气很好，所以我们要走路去市场。",
        "我奶奶做的面包是全镇最好的。",
        "语言模型把文本当作一串叫做词元的小片段来阅读。",
        "请问最近的火车站在哪里？",
        "孩子们在公园里踢足球，一直踢到天黑。",
        "学习一门新语言需要时间、耐心和大量练习。",
        "医生说我应该多喝水，每天睡八个小时。",
        "昨天我读了一本关于数学史的书。",
    ],
    "ja": [
        "今日は天気がいいので、市場まで歩いて行きます。",
        "祖母は町で一番おいしいパンを焼きます。",
        "言語モデルは、テキストをトークンと呼ばれる小さな断片の列として読みます。",
        "一番近い駅はどこか教えていただけますか。",
        "子どもたちは暗くなるまで公園でサッカーをしました。",
        "新しい言語を学ぶには、時間と忍耐とたくさんの練習が必要です。",
        "医者は、もっと水を飲んで八時間眠るべきだと言いました。",
        "昨日、数学の歴史についての本を読みました。",
    ],
    "ko": [
        "오늘은 날씨가 좋아서 시장까지 걸어갈 거예요.",
        "우리 할머니는 온 마을에서 가장 맛있는 빵을 만드세요.",
        "언어 모델은 텍스트를 토큰이라고 부르는 작은 조각들의 연속으로 읽습니다.",
        "가장 가까운 기차역이 어디에 있는지 알려 주시겠어요?",
        "아이들은 어두워질 때까지 공원에서 축구를 했습니다.",
        "새로운 언어를 배우려면 시간과 인내심, 그리고 많은 연습이 필요합니다.",
        "의사는 제가 물을 더 많이 마시고 여덟 시간 자야 한다고 말했습니다.",
        "어제 저는 수학의 역사에 관한 책을 읽었습니다.",
    ],
    "am": [
        "ዛሬ የአየር ሁኔታው ጥሩ ነው፣ ስለዚህ ወደ ገበያ በእግር እንሄዳለን።",
        "አያቴ በመንደሩ ውስጥ ከሁሉ የተሻለ ዳቦ ትጋግራለች።",
        "የቋንቋ ሞዴሎች ጽሑፍን ቶከን የሚባሉ ትናንሽ ቁርጥራጮች ቅደም ተከተል አድርገው ያነባሉ።",
        "በአቅራቢያ ያለው የባቡር ጣቢያ የት እንደሆነ ሊነግሩኝ ይችላሉ?",
        "ልጆቹ እስኪጨልም ድረስ በመናፈሻው ውስጥ እግር ኳስ ተጫወቱ።",
        "አዲስ ቋንቋ መማር ጊዜ፣ ትዕግስት እና ብዙ ልምምድ ይጠይቃል።",
        "ሐኪሙ ተጨማሪ ውሃ መጠጣትና ስምንት ሰዓት መተኛት እንዳለብኝ ነገረኝ።",
        "ትናንት ስለ ሒሳብ ታሪክ አንድ መጽሐፍ አነበብኩ።",
    ],
}
